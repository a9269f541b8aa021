"""Locale choice and formatting for the portal pages."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time, get_timezone_name

from bot.config import LOCALES
from bot.i18n import babel_locale

_TAG = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$")


def from_accept_language(header: str | None, default: str = "en") -> str:
    """The best of our locales for an Accept-Language header (q-values honoured)."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "")[:1000].split(",")[:30]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not _TAG.match(tag):
            continue
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))
                except ValueError:
                    quality = 0.0
        primary = tag.replace("_", "-").split("-", 1)[0].lower()
        if primary in LOCALES and quality > 0:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else default


def when(moment: datetime, locale: str, zone: str | None, fmt: str = "medium") -> str:
    """An instant in a zone, as the locale writes it."""
    tz = ZoneInfo(zone) if zone else ZoneInfo("UTC")
    if fmt == "full":  # the whole date, the time without seconds or zone (shown next to it)
        local = moment.astimezone(tz)
        return f"{format_date(local, 'full', locale=babel_locale(locale))}, {format_time(local, 'short', locale=babel_locale(locale))}"
    if fmt == "medium":  # lists: a short date and the time without seconds
        local = moment.astimezone(tz)
        return f"{format_date(local, 'medium', locale=babel_locale(locale))}, {format_time(local, 'short', locale=babel_locale(locale))}"
    if fmt == "time":
        return format_time(moment.astimezone(tz), "short", locale=babel_locale(locale))
    return format_datetime(moment, format=fmt, tzinfo=tz, locale=babel_locale(locale))


def zone_label(zone: str, locale: str, moment: datetime) -> str:
    """The zone's name for readers ("Central European Time", "Алматы")."""
    try:
        name = get_timezone_name(moment.astimezone(ZoneInfo(zone)), width="long", locale=babel_locale(locale))
    except Exception:  # noqa: BLE001 - CLDR lacks names for a few zones; the id is still correct
        return zone
    return f"{name} ({zone})" if name and name != zone else zone


def local_iso(moment: datetime, zone: str) -> str:
    """ISO 8601 with the venue's offset, as schema.org and <time> want it."""
    return moment.astimezone(ZoneInfo(zone)).isoformat(timespec="minutes")
