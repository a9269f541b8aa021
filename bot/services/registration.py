"""Registration and the member's profile: validation, places, saving, export and erasure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import City, coarsen, get_gazetteer, timezone_at, validate_coordinates
from bot.services.members import erase_member, export_member_data, mark_blocked, profile_snapshot  # noqa: F401  (old home)
from bot.services.vocab import (  # noqa: F401  (old home of the code lists)
    DEFAULT_QUIET,
    INTERESTS,
    ORIGIN_COUNTRIES,
    QUIET_PRESETS,
    RADII_KM,
    SPOKEN_LANGUAGES,
)
from db.models import Member
from db.repositories import Repo
from db.types import utcnow

PRIVACY_VERSION = "2026-12"  # origin and languages optional, with their own consent
NAME_MAX = 64
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class InvalidName(ValueError):
    """Why a display name was refused: 'empty', 'too_long' or 'control'."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def clean_name(raw: str | None) -> str:
    """A display name as typed, trimmed; refuses empty, overlong and control characters."""
    name = " ".join((raw or "").split())
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co"} and ch not in "\u200c\u200d" for ch in raw or ""):
        raise InvalidName("control")
    if not name:
        raise InvalidName("empty")
    if len(name) > NAME_MAX:
        raise InvalidName("too_long")
    return name


@dataclass(frozen=True)
class Place:
    """Where a member lives: a city and coordinates no finer than ~1 km."""

    city_id: int | None
    city_name: str | None
    country_code: str | None
    latitude: float
    longitude: float
    timezone: str | None

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def place_from_city(city: City) -> Place:
    """A typed city: its own coordinates and time zone."""
    return Place(city.geoname_id, city.name, city.country_code, round(city.latitude, 2), round(city.longitude, 2), city.timezone)


def place_from_location(latitude: float, longitude: float) -> Place | None:
    """A shared location: the nearest city, coordinates coarsened; None when no city is near."""
    lat, lon = validate_coordinates(latitude, longitude)
    city = get_gazetteer().nearest(lat, lon)
    if city is None:
        return None
    lat, lon = coarsen(lat, lon)
    return Place(city.geoname_id, city.name, city.country_code, lat, lon, timezone_at(lat, lon) or city.timezone)


def find_cities(text: str, limit: int = 5) -> list[City]:
    """Cities matching what the member typed, best first."""
    return get_gazetteer().search(text[:100], limit=limit)


def default_draft() -> dict[str, Any]:
    """Notification settings a new member starts with."""
    return {
        "languages": [],
        "interests": [],
        "notify_announcements": True,
        "notify_events": True,
        "digest_weekly": False,
        "radius_km": 25,
        "quiet": list(DEFAULT_QUIET),
    }


def _fields(draft: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if "name" in draft:
        fields["display_name"] = draft["name"]
    if draft.get("place"):
        place = draft["place"]
        fields.update(
            city_id=place["city_id"], city_name=place["city_name"], country_code=place["country_code"],
            latitude=place["latitude"], longitude=place["longitude"], timezone=place["timezone"],
        )
    if "origin" in draft:  # None: "prefer not to say"
        fields["origin_country"] = draft["origin"] or None
    for key in ("languages", "interests"):
        if key in draft:
            fields[key] = [value for value in draft[key] if value in (SPOKEN_LANGUAGES if key == "languages" else INTERESTS)]
    for key in ("notify_announcements", "notify_events", "digest_weekly"):
        if key in draft:
            fields[key] = bool(draft[key])
    if draft.get("radius_km") in RADII_KM:
        fields["radius_km"] = draft["radius_km"]
    if "quiet" in draft:
        quiet = draft["quiet"]
        if quiet and all(_HHMM.match(value) for value in quiet):
            fields["quiet_start"], fields["quiet_end"] = quiet
        else:
            fields["quiet_start"] = fields["quiet_end"] = None
    return fields


async def complete_registration(session: AsyncSession, telegram_id: int, locale: str, draft: dict[str, Any]) -> Member:
    """Create the member from a finished questionnaire, with the consent it recorded."""
    repo = Repo(session)
    member = await repo.members.by_telegram_id(telegram_id)
    if member is None:
        member = await repo.members.add(telegram_id)
    member.locale = locale
    member.consent_version = draft.get("consent_version", PRIVACY_VERSION)
    member.consent_at = datetime.fromisoformat(draft["consent_at"]) if draft.get("consent_at") else utcnow()
    member.registered_at = utcnow()
    member.is_active = True
    for key, value in _fields(draft).items():
        setattr(member, key, value)
    _record_sensitive_consent(member)
    await session.flush()
    await repo.audit.record("member.registered", actor_id=member.id)
    return member


async def update_profile(session: AsyncSession, member: Member, changes: dict[str, Any]) -> Member:
    """Apply edited profile fields (same validation as registration)."""
    for key, value in _fields(changes).items():
        setattr(member, key, value)
    _record_sensitive_consent(member)
    await session.flush()
    return member


def _record_sensitive_consent(member: Member) -> None:
    """Origin or languages given: the member's explicit consent to them (first time); neither: none."""
    if member.origin_country or member.languages:
        member.sensitive_consent_at = member.sensitive_consent_at or utcnow()
    else:
        member.sensitive_consent_at = None
