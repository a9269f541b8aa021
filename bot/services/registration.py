"""Registration and the member's profile: validation, places, saving, export and erasure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import City, coarsen, get_gazetteer, timezone_at, validate_coordinates
from db.models import Announcement, Delivery, FsmRecord, Member, Role
from db.repositories import Repo
from db.types import utcnow

PRIVACY_VERSION = "2026-12"  # origin and languages optional, with their own consent
NAME_MAX = 64
ORIGIN_COUNTRIES = ("TR", "AZ", "KZ", "KG", "UZ", "TM")
SPOKEN_LANGUAGES = ("tr", "az", "kk", "ky", "uz", "tk", "tt", "ba", "ug", "crh", "ru", "en", "de")
INTERESTS = ("culture", "education", "business", "religion", "youth", "sports", "media", "consular", "volunteering")
RADII_KM = (5, 25, 100)
QUIET_PRESETS: tuple[tuple[str, str] | None, ...] = (("22:00", "08:00"), ("23:00", "07:00"), ("21:00", "09:00"), None)
DEFAULT_QUIET = ("22:00", "08:00")
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


def profile_snapshot(member: Member) -> dict[str, Any]:
    """Everything stored on the member row, as plain JSON values."""
    return {
        "telegram_id": member.telegram_id,
        "display_name": member.display_name,
        "language": member.locale,
        "registered_at": member.registered_at.isoformat() if member.registered_at else None,
        "consent": {"version": member.consent_version, "at": member.consent_at.isoformat() if member.consent_at else None},
        "place": {
            "city": member.city_name, "country": member.country_code,
            "latitude": member.latitude, "longitude": member.longitude, "timezone": member.timezone,
        },
        "sensitive_data_consent_at": member.sensitive_consent_at.isoformat() if member.sensitive_consent_at else None,
        "origin_country": member.origin_country,
        "languages": list(member.languages or []),
        "interests": list(member.interests or []),
        "notifications": {
            "announcements": member.notify_announcements, "events_near_me": member.notify_events,
            "weekly_digest": member.digest_weekly,
            "radius_km": member.radius_km, "quiet_hours": [member.quiet_start, member.quiet_end] if member.quiet_start else None,
        },
        "active": member.is_active,
        "created_at": member.created_at.isoformat() if member.created_at else None,
    }


async def export_member_data(session: AsyncSession, member: Member) -> dict[str, Any]:
    """The member's /mydata: profile, roles, RSVPs, follows and deliveries received."""
    from bot.services.events import member_event_data

    roles = (await session.scalars(select(Role).where(Role.member_id == member.id))).all()
    deliveries = (
        await session.execute(
            select(Delivery, Announcement)
            .join(Announcement, Announcement.id == Delivery.announcement_id)
            .where(Delivery.member_id == member.id)
            .order_by(Delivery.id)
        )
    ).all()
    return {
        "format": "kardes-mydata/1",
        "exported_at": utcnow().isoformat(),
        "profile": profile_snapshot(member),
        "roles": [{"role": r.role, "organisation_id": r.organisation_id, "granted_at": r.granted_at.isoformat()} for r in roles],
        **(await member_event_data(session, member)),
        "deliveries": [
            {
                "announcement_id": d.announcement_id,
                "status": d.status,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "text": a.texts.get(member.locale or "en") or next(iter(a.texts.values()), None),
            }
            for d, a in deliveries
        ],
    }


async def erase_member(session: AsyncSession, member: Member) -> None:
    """Erase the member and every row that identifies them; keep only an anonymous audit line."""
    telegram_id = member.telegram_id
    await session.execute(delete(Delivery).where(Delivery.member_id == member.id))
    await session.execute(delete(Role).where(Role.member_id == member.id))
    await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{telegram_id}:{telegram_id}:%")))
    await session.delete(member)
    await session.flush()
    await Repo(session).audit.record("member.erased")


async def mark_blocked(session: AsyncSession, telegram_id: int) -> bool:
    """Telegram said 403 for this member: stop sending until they write again."""
    member = await Repo(session).members.by_telegram_id(telegram_id)
    if member is None or not member.is_active:
        return False
    member.is_active = False
    await session.flush()
    await Repo(session).audit.record("member.blocked_bot", actor_id=member.id)
    return True
