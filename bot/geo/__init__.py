"""Offline geography for Kardeş: city gazetteer, reverse geocoding, countries, time zones.

Importing this package is cheap: the gazetteer, Babel data and timezonefinder are
all loaded lazily on first use.
"""

from __future__ import annotations

from bot.geo.citynames import city_name
from bot.geo.countries import SUPPORTED_LOCALES, Country, country_name, search_countries
from bot.geo.distance import coarsen, distance_km, validate_coordinates
from bot.geo.gazetteer import City, Gazetteer, get_gazetteer
from bot.geo.text import fold, to_latin
from bot.geo.timezones import timezone_at

__all__ = [
    "city_name",
    "SUPPORTED_LOCALES",
    "City",
    "Country",
    "Gazetteer",
    "coarsen",
    "country_name",
    "distance_km",
    "fold",
    "get_city",
    "get_gazetteer",
    "nearest_city",
    "search_cities",
    "search_countries",
    "timezone_at",
    "to_latin",
    "validate_coordinates",
]


def search_cities(query: str, limit: int = 5) -> list[City]:
    """Shortcut for ``get_gazetteer().search(query, limit)``."""
    return get_gazetteer().search(query, limit)


def nearest_city(lat: float, lon: float) -> City | None:
    """Shortcut for ``get_gazetteer().nearest(lat, lon)``."""
    return get_gazetteer().nearest(lat, lon)


def get_city(geoname_id: int) -> City | None:
    """Shortcut for ``get_gazetteer().get(geoname_id)``."""
    return get_gazetteer().get(geoname_id)


def warm_up() -> None:
    """Build the large tables now (the gazetteer, the country index, time-zone polygons), so the
    first /nearby or shared location does not build them on the event loop. Blocking: call it
    in a thread (`asyncio.to_thread(warm_up)`) before taking updates."""
    from bot.geo.countries import _get_country_index
    from bot.geo.timezones import _get_finder

    get_gazetteer()
    _get_country_index()
    _get_finder()
