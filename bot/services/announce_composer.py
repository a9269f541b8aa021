"""The /announce composer's draft: what the secretary typed, read and checked, and the draft turned
into an announcement to schedule (or a scheduled one back into a draft, to edit it).

Pure functions: no database, no aiogram, no clock of their own (`now` is passed in). A typed answer
that cannot be used raises `AnnouncementError` with a code (`radius`, `not_found` with `names`,
`date`, `past`, `clock`, `link`); bot/views/announce.error_text says why in the secretary's
language. The draft is the composer's conversation data, kept in this shape across updates:
`texts` per locale, `audience` (bot/services/announcements.clean_audience's keys), `when`
(`{"mode": "now"}`, `{"mode": "at", "at": iso}`, `{"mode": "daily" | "weekly", "clock": "HH:MM",
"weekday": 0-6}`), `urgent`, `photo`, `link_url`, `link_text`.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from bot.geo import search_countries, validate_coordinates
from bot.numbers import NumberError, parse_decimal
from bot.services.announcements import AnnouncementError, Draft, check_text, parse_recurrence, recurrence_text
from bot.services.errors import InvalidEventField
from bot.services.events import parse_local, to_utc
from bot.services.registration import find_cities
from bot.services.validate import InvalidLink, clean_link
from bot.timeparse import parse_clock
from db.models import Announcement

RADIUS_MAX_KM = 20000
LINK_TEXT_MAX = 64  # Telegram's limit for a button's text
NAMES_MAX = 30  # countries or cities read from one message
Composed = dict[str, Any]


def blank() -> Composed:
    """A new draft: no text, everyone, now."""
    return {"texts": {}, "audience": {}, "when": {"mode": "now"}, "urgent": False, "photo": None, "link_url": None, "link_text": None}


# --- the audience ------------------------------------------------------------------------------

def read_criterion(key: str, typed: str, locale: str) -> Any:
    """A typed audience criterion's value: a radius (`radius`), or the codes of countries (`countries`,
    `origins`) or the ids of cities (`cities`), every name found."""
    if key == "radius":
        return read_radius(typed)
    return read_places(key, typed, locale)


def read_radius(typed: str) -> dict[str, float]:
    """'Berlin 50' or '52.52 13.40 50' → a centre and a radius in km; refuses (radius) what is
    unreadable, off the globe, or not a radius above 0 and up to RADIUS_MAX_KM."""
    words = typed.replace(",", " ").split()
    if len(words) < 2:
        raise AnnouncementError("radius")
    km = parse_decimal(words[-1], 0, RADIUS_MAX_KM, low_inclusive=False)
    if isinstance(km, NumberError):
        raise AnnouncementError("radius")
    lat = parse_decimal(words[0], -math.inf, math.inf) if len(words) == 3 else NumberError.NOT_A_NUMBER
    if not isinstance(lat, NumberError):  # coordinates, or nothing
        lon = parse_decimal(words[1], -math.inf, math.inf)
        if isinstance(lon, NumberError):
            raise AnnouncementError("radius")
        try:
            lat, lon = validate_coordinates(lat, lon)
        except ValueError:  # numbers, but off the globe
            raise AnnouncementError("radius") from None
        return {"lat": lat, "lon": lon, "km": km}
    cities = find_cities(" ".join(words[:-1]), limit=1)
    if not cities:
        raise AnnouncementError("radius")
    return {"lat": cities[0].latitude, "lon": cities[0].longitude, "km": km}


def read_places(key: str, typed: str, locale: str) -> list[str | int]:
    """Comma-separated countries (their codes) or cities (`key` "cities": their ids), in any
    language; refuses (not_found, `names`) when a name matches nothing, or nothing was typed."""
    names = [part.strip() for part in typed.split(",") if part.strip()][:NAMES_MAX]
    found = {name: _place(key, name, locale) for name in names}
    unknown = [name for name, code in found.items() if code is None]
    codes = sorted({code for code in found.values() if code is not None})  # type: ignore[type-var]
    if unknown or not codes:
        raise AnnouncementError("not_found", names=unknown or [typed])
    return codes


def _place(key: str, name: str, locale: str) -> str | int | None:
    if key == "cities":
        cities = find_cities(name, limit=1)
        return cities[0].geoname_id if cities else None
    countries = search_countries(name, locale, limit=1)
    return countries[0].code if countries else None


def toggled(audience: dict[str, Any], key: str, value: str) -> dict[str, Any]:
    """The audience with `value` added to or taken from the list `key` (an empty list is no criterion)."""
    chosen = set(audience.get(key, [])) ^ {value}
    others = {k: v for k, v in audience.items() if k != key}
    return {**others, key: sorted(chosen)} if chosen else others


# --- when --------------------------------------------------------------------------------------

def read_moment(typed: str, zone: str, now: datetime) -> dict[str, str]:
    """A date and time in the secretary's zone (the event form's reading), ahead of `now`; refuses
    (date) what cannot be read or does not exist in the zone, (past) what has passed."""
    try:
        moment = to_utc(parse_local(typed, zone, now), zone)
    except InvalidEventField:
        raise AnnouncementError("date") from None
    if moment <= now:
        raise AnnouncementError("past")
    return {"mode": "at", "at": moment.isoformat()}


def read_repeat(mode: str, typed: str, zone: str, weekday: int = 0) -> dict[str, Any]:
    """Every day (`mode` "daily") or every `weekday` (0 = Monday; "weekly") at a typed time of day in
    `zone`; refuses (clock) what is not a time like 09:00, (recurrence) a repeat that cannot be stored."""
    clock = parse_clock(typed)
    if clock is None:
        raise AnnouncementError("clock")
    recurrence_text(clock, zone, weekday if mode == "weekly" else None)  # refused now, not at the confirm
    return {"mode": mode, "clock": clock.strftime("%H:%M"), "weekday": weekday}


# --- the photo and the link ----------------------------------------------------------------------------------

def check_captions(texts: dict[str, str]) -> None:
    """Every text written so far fits under a photo (a caption is shorter than a message); else the reason."""
    for text in texts.values():
        check_text(text, with_photo=True)


def read_link(typed: str) -> tuple[str, str]:
    """'https://example.org Read more' → the address (the event form's rule) and the button's text
    (the address when none is given); refuses (link) what is not a web address."""
    address, _space, label = typed.strip().partition(" ")
    try:
        url = clean_link(address)
    except InvalidLink:
        raise AnnouncementError("link") from None
    return url, (label.strip() or url)[:LINK_TEXT_MAX]


# --- to and from an announcement ---------------------------------------------------------------

def to_draft(composed: Composed, zone: str) -> Draft:
    """The draft as the scheduler takes it; a repeat is in the secretary's zone `zone`."""
    when = composed.get("when") or {"mode": "now"}
    send_at, recurrence = None, None
    if when["mode"] == "at":
        send_at = datetime.fromisoformat(when["at"])
    elif when["mode"] in ("daily", "weekly"):
        clock = parse_clock(when["clock"])
        if clock is None:
            raise AnnouncementError("clock")
        recurrence = recurrence_text(clock, zone, when.get("weekday", 0) if when["mode"] == "weekly" else None)
    return Draft(texts=composed["texts"], audience=composed["audience"], send_at=send_at, recurrence=recurrence,
                 urgent=bool(composed.get("urgent")), photo_file_id=composed.get("photo"),
                 link_url=composed.get("link_url"), link_text=composed.get("link_text"))


def from_announcement(announcement: Announcement, now: datetime) -> Composed:
    """A scheduled announcement as a draft to edit: its texts, audience, options and repeat (a one-off
    time still ahead is kept; one that has passed becomes now)."""
    composed = blank()
    composed.update(texts=dict(announcement.texts), audience=dict(announcement.audience), urgent=announcement.urgent,
                    photo=announcement.photo_file_id, link_url=announcement.link_url, link_text=announcement.link_text)
    if announcement.recurrence:
        kind, weekday, clock, _zone = parse_recurrence(announcement.recurrence)
        composed["when"] = {"mode": kind, "clock": clock.strftime("%H:%M"), "weekday": weekday or 0}
    elif announcement.send_at and announcement.send_at > now:
        composed["when"] = {"mode": "at", "at": announcement.send_at.isoformat()}
    return composed
