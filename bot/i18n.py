"""Locale decisions and locale-aware formatting: the one place for each."""

from __future__ import annotations

import html
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from babel.dates import format_datetime as babel_format_datetime
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
BABEL_LOCALES: dict[str, str] = {"uz": "uz_Latn", "az": "az_Latn"}


def create_i18n(default_locale: str = "en") -> I18n:
    """aiogram's I18n over our compiled catalogues."""
    return I18n(path=LOCALES_DIR, default_locale=default_locale, domain="messages")


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


def format_when(moment: datetime, locale: str, timezone: str | None, fmt: str = "medium") -> str:
    """A UTC instant shown in the member's time zone and locale."""
    zone = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    return babel_format_datetime(moment, format=fmt, tzinfo=zone, locale=babel_locale(locale))


def format_number(value: float | int, locale: str) -> str:
    """A number with the locale's separators."""
    return format_decimal(value, locale=babel_locale(locale))


def format_distance(km: float, locale: str) -> str:
    """A distance in kilometres as the locale writes it ("1,2 км", "1.2 km")."""
    from babel.units import format_unit

    value = round(km, 1) if km < 10 else round(km)
    return format_unit(value, "length-kilometer", length="short", format="#,##0.#", locale=babel_locale(locale))
