"""City names in the reader's language and script.

The gazetteer's main name is the English or local Latin form ("Munich", "Köln"). Its alternate
names carry no language tag (Russian, Bulgarian and Serbian forms sit side by side), so we do not
guess among them. Instead, in order:

1. a curated table: the Cyrillic names of the diaspora's cities, and Kazakh forms where Kazakh
   and Russian differ;
2. CLDR's exemplar cities (Babel): each time zone's city in every locale ("Wien" → "Вена",
   "Viyana", "Vena");
3. the gazetteer's own name.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.geo.gazetteer import City

_CYRILLIC_LOCALES = ("kk", "ky", "ru")
_BABEL = {"uz": "uz_Latn", "az": "az_Latn", "kk": "kk_Cyrl"}
_CYRILLIC = re.compile("[\u0400-\u04ff]")

# geoname id -> the city's name in Russian, which Kazakh and Kyrgyz readers use for foreign cities.
CYRILLIC_NAMES: dict[int, str] = {
    2950159: "Берлин", 2886242: "Кёльн", 2867714: "Мюнхен", 2925533: "Франкфурт-на-Майне", 2911298: "Гамбург",
    2825297: "Штутгарт", 2934246: "Дюссельдорф", 2861650: "Нюрнберг", 2910831: "Ганновер", 2944388: "Бремен",
    2935517: "Дортмунд", 2928810: "Эссен", 2759794: "Амстердам", 2747891: "Роттердам", 2800866: "Брюссель",
    2761369: "Вена", 2657896: "Цюрих", 2643743: "Лондон", 2988507: "Париж", 2996944: "Лион", 2673730: "Стокгольм",
    756135: "Варшава", 3067696: "Прага", 524901: "Москва", 498817: "Санкт-Петербург", 551487: "Казань",
    479561: "Уфа", 1496747: "Новосибирск", 5128581: "Нью-Йорк", 4887398: "Чикаго", 4140963: "Вашингтон",
    6167865: "Торонто", 1835848: "Сеул", 1850147: "Токио", 292223: "Дубай", 745044: "Стамбул", 323786: "Анкара",
    750269: "Бурса", 311046: "Измир", 323777: "Анталья", 587084: "Баку", 586523: "Гянджа", 584923: "Сумгаит",
    1526384: "Алматы", 1526273: "Астана", 1518980: "Шымкент", 609655: "Караганда", 610611: "Актобе",
    1528675: "Бишкек", 1527534: "Ош", 1512569: "Ташкент", 1216265: "Самарканд", 1217662: "Бухара",
    162183: "Ашхабад", 1219649: "Туркменабад", 693805: "Симферополь", 2147714: "Сидней", 2158177: "Мельбурн",
}
# Where a locale writes a city otherwise than Russian.
LOCALE_NAMES: dict[str, dict[int, str]] = {
    "kk": {609655: "Қарағанды", 610611: "Ақтөбе", 1219649: "Түрікменабат"},
    "ky": {1219649: "Түркмөнабат"},
}


@lru_cache(maxsize=4096)
def _cldr_name(name: str, timezone: str, locale: str) -> str | None:
    """CLDR's name for the city a time zone is named after, when this city is that one."""
    from zoneinfo import ZoneInfo

    from babel.dates import get_timezone_location

    try:
        zone = ZoneInfo(timezone)
        if get_timezone_location(zone, locale="en", return_city=True) != name:
            return None
        return get_timezone_location(zone, locale=_BABEL.get(locale, locale), return_city=True)
    except (LookupError, ValueError):
        return None


def city_name(city: City, locale: str) -> str:
    """The city's name as the reader writes it, in their script where we know one."""
    curated = LOCALE_NAMES.get(locale, {}).get(city.geoname_id)
    if curated is None and locale in _CYRILLIC_LOCALES:
        curated = CYRILLIC_NAMES.get(city.geoname_id)
    if curated:
        return curated
    local = _cldr_name(city.name, city.timezone, locale)
    if local and bool(_CYRILLIC.search(local)) == (locale in _CYRILLIC_LOCALES):
        return local
    return city.name
