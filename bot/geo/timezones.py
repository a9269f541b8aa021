"""Time zone lookup for a location (timezonefinder, with a gazetteer fallback)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from bot.geo.distance import validate_coordinates

__all__ = ["timezone_at"]

log = logging.getLogger(__name__)

_lock = threading.Lock()
_finder: Any = None
_finder_failed = False


def _get_finder() -> Any:
    """Lazily create the TimezoneFinder (it maps ~40 MB of polygon data on first use)."""
    global _finder, _finder_failed
    if _finder is None and not _finder_failed:
        with _lock:
            if _finder is None and not _finder_failed:
                try:
                    from timezonefinder import TimezoneFinder

                    _finder = TimezoneFinder()
                except Exception:  # missing/broken package: degrade to the city fallback
                    log.exception("timezonefinder unavailable; using nearest-city time zones")
                    _finder_failed = True
    return _finder


def timezone_at(lat: float, lon: float) -> str | None:
    """IANA time zone name at a point; falls back to the nearest city's zone, else None."""
    lat, lon = validate_coordinates(lat, lon)
    finder = _get_finder()
    if finder is not None:
        try:
            tz = finder.timezone_at(lng=lon, lat=lat)
        except Exception:  # pragma: no cover - library edge cases must not break callers
            log.exception("timezonefinder failed for %s,%s", lat, lon)
            tz = None
        if tz:
            return str(tz)
    from bot.geo.gazetteer import get_gazetteer

    city = get_gazetteer().nearest(lat, lon)
    return city.timezone if city is not None and city.timezone else None
