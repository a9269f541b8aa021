"""Locale decisions and locale-aware formatting: the one place for each."""

from __future__ import annotations

import gettext
import html
import threading
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.dates import format_skeleton, get_day_names, get_timezone_location
from babel.dates import format_time as babel_format_time
from babel.numbers import format_decimal

from bot.config import LOCALES

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"

# Each language in its own name, as the /language keyboard shows it.
LANGUAGE_NAMES: dict[str, str] = {
    "tr": "Türkçe",
    "az": "Azərbaycan dili",
    "kk": "Қазақ тілі",
    "ky": "Кыргыз тили",
    "uz": "Oʻzbekcha",
    "tk": "Türkmen dili",
    "ru": "Русский",
    "en": "English",
}

# Babel's locale for each of ours: Uzbek and Azerbaijani in the Latin script they use today.
BABEL_LOCALES: dict[str, str] = {"uz": "uz_Latn", "az": "az_Latn", "kk": "kk_Cyrl"}


def _shared_catalogues(path: Path, domain: str) -> dict[str, gettext.GNUTranslations]:
    """The compiled catalogues, parsed once per process (per file version): every app built in
    the process (a web process and its worker, each test's bot) shares the read-only
    translations instead of parsing eight .mo files again."""
    files = sorted(path.glob(f"*/LC_MESSAGES/{domain}.mo"))
    version = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files)
    with _catalogues_lock:
        cached = _catalogues.get(version)
        if cached is None:
            cached = _catalogues[version] = I18n(path=path, default_locale="en", domain=domain).locales
    return dict(cached)


_catalogues: dict[tuple[tuple[str, int, int], ...], dict[str, gettext.GNUTranslations]] = {}
_catalogues_lock = threading.Lock()


def create_i18n(default_locale: str = "en") -> I18n:
    """aiogram's I18n over our compiled catalogues."""
    i18n = I18n.__new__(I18n)  # aiogram's own class (its context variable is per class), with
    i18n.find_locales = lambda: _shared_catalogues(LOCALES_DIR, "messages")  # the shared catalogues
    I18n.__init__(i18n, path=LOCALES_DIR, default_locale=default_locale, domain="messages")
    return i18n


def locale_from_telegram(language_code: str | None) -> str | None:
    """Map Telegram's language_code (`kk-KZ`, `uz-Cyrl`, `tr`) to one of our locales."""
    if not language_code:
        return None
    primary = language_code.replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LOCALES else None


def resolve_locale(stored: str | None, language_code: str | None, default: str) -> str:
    """The member's stored choice, else Telegram's language, else the default."""
    if stored in LOCALES:
        return stored  # type: ignore[return-value]
    return locale_from_telegram(language_code) or default


def pgettext(context: str, message: str, locale: str | None = None) -> str:
    """`message` translated in its context ("cancelled" of an event, of an announcement), current locale by default."""
    i18n = I18n.get_current(no_error=True)
    if i18n is None:
        return message
    translations = i18n.locales.get(locale or i18n.current_locale)
    return translations.pgettext(context, message) if translations else message


def babel_locale(locale: str) -> str:
    """The Babel/CLDR locale name for one of ours."""
    return BABEL_LOCALES.get(locale, locale)


def capitalise(text: str, locale: str) -> str:
    """The first letter in capitals the locale's way: Turkish and Azerbaijani i → İ, ı → I."""
    if not text:
        return text
    first = text[0]
    if locale in ("tr", "az") and first in "iı":
        first = "İ" if first == "i" else "I"
    else:
        first = first.upper()
    return first + text[1:]


def escape(text: object) -> str:
    """User-supplied text made safe for parse mode HTML."""
    return html.escape(str(text), quote=False)


# A day on a button: the weekday written out (CLDR's abbreviations are cryptic in az: "C."), the
# month short, in each locale's order.
DAY_PATTERNS: dict[str, str] = {
    "tr": "d MMM EEEE", "az": "EEEE, d MMM", "kk": "d MMM, EEEE", "ky": "EEEE, d-MMM",
    "uz": "EEEE, d-MMM", "tk": "d MMM, EEEE", "ru": "EEEE, d MMM", "en": "EEE d MMM",
}
TIME_STYLES = ("full", "medium", "short", "day", "date", "time")


@lru_cache(maxsize=512)
def zone_label(timezone: str, locale: str) -> str:
    """A time zone as people name it: its city in the reader's language ("Berlin", "Берлин"), else "UTC+3"."""
    if timezone in ("UTC", "Etc/UTC", "GMT"):
        return "UTC"
    try:
        city = get_timezone_location(ZoneInfo(timezone), locale=babel_locale(locale), return_city=True)
    except (LookupError, ValueError):
        city = ""
    if city and not city.startswith(("GMT", "UTC")):
        return city
    offset = datetime.now(ZoneInfo(timezone)).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "\u2212"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def format_when(moment: datetime, locale: str, timezone: str | None, fmt: str = "medium") -> str:
    """A UTC instant as people write it, in the reader's time zone and locale; the one place that formats one.

    full:   "Friday, December 25, 2026, 6:30 PM (Berlin)", "25 Aralık 2026 Cuma, 18:30 (Berlin)"
    medium: "Dec 25, 2026, 6:30 PM (Berlin)", "25 дек. 2026 г., 18:30 (Берлин)"
    short:  "25.12.2026, 18:30" (no zone: lists where the zone is said once)
    day:    "Fri 25 Dec", "25 Ara Cuma", "Пятница, 25 дек." (a button)
    date:   "Friday, December 25, 2026", "пятница, 25 декабря 2026 г." (a day, no time)
    time:   "18:30 (Berlin)"
    Never seconds, never a long zone name.
    """
    zone = timezone or "UTC"
    local = moment.astimezone(ZoneInfo(zone))
    name = babel_locale(locale)
    if fmt == "day":
        return capitalise(babel_format_datetime(local, DAY_PATTERNS.get(locale, DAY_PATTERNS["en"]), locale=name), locale)
    if fmt == "date":
        return babel_format_date(local, "full", locale=name)
    clock = babel_format_time(local, "short", locale=name)
    if fmt == "short":
        return f"{format_skeleton('yMd', local, locale=name)}, {clock}"
    zoned = f"{clock} ({zone_label(zone, locale)})"
    if fmt == "time":
        return zoned
    day = babel_format_date(local, "full" if fmt == "full" else "medium", locale=name)
    return f"{day}, {zoned}"


def weekday_name(index: int, locale: str) -> str:
    """A weekday (0 = Monday) as written inside a sentence: lower case in tr and az ("her pazartesi")."""
    name = get_day_names("wide", locale=babel_locale(locale))[index]
    return lower(name, locale) if locale in ("tr", "az") else name


def lower(text: str, locale: str) -> str:
    """Lower case the locale's way: Turkish and Azerbaijani I → ı, İ → i."""
    if locale in ("tr", "az"):
        text = text.replace("I", "ı").replace("İ", "i")
    return text.lower()


def format_number(value: float | int, locale: str) -> str:
    """A number with the locale's separators."""
    return format_decimal(value, locale=babel_locale(locale))


def format_distance(km: float, locale: str) -> str:
    """A distance in kilometres as the locale writes it ("1,2 км", "1.2 km")."""
    return _distance(round(km, 1) if km < 10 else round(km), locale)


@lru_cache(maxsize=4096)
def _distance(value: float, locale: str) -> str:
    # Babel's unit formatting is slow (a pattern parsed per call) and a nearby list writes six
    # distances, mostly the same few radii: remembered per value and locale.
    from babel.units import format_unit

    return format_unit(value, "length-kilometer", length="short", format="#,##0.#", locale=babel_locale(locale))
