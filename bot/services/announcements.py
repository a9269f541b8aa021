"""Announcements: validate texts, choose the audience, schedule, and report.

Sending is the delivery engine's job (jobs/delivery.py); this module decides *what* goes
to *whom* and *when*.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LOCALES
from bot.geo import distance_km, validate_coordinates
from bot.services.timeutil import quiet_until  # noqa: F401  (old home)
from bot.services.validate import InvalidLink, clean_link
from bot.numbers import ROW_ID, NumberError, parse_int
from bot.telegram_format import EntityParseError, parse_formatted, utf16_len
from db.models import Announcement, AnnouncementStatus, Delivery, DeliveryStatus, Member
from db.repositories import Repo
from db.types import utcnow

TEXT_LIMIT = 4096  # Telegram's limit for a message; a photo caption allows 1024
CAPTION_LIMIT = 1024
CHANGEABLE = (AnnouncementStatus.SCHEDULED.value, AnnouncementStatus.SENDING.value)  # may still be cancelled or edited
FINISHED = (AnnouncementStatus.DONE.value, AnnouncementStatus.CANCELLED.value)
AUDIENCE_KEYS = ("countries", "cities", "languages", "interests", "origins", "radius")
_RECURRENCE = re.compile(r"^(daily|weekly:[0-6])@([01]\d|2[0-3]):([0-5]\d)@(.+)$")
RECURRENCE_MAX: int = Announcement.__table__.c.recurrence.type.length  # type: ignore[attr-defined]


class AnnouncementError(ValueError):
    """Why an announcement cannot be scheduled: `code` names the reason, `details` fill the message."""

    def __init__(self, code: str, **details: Any) -> None:
        super().__init__(code)
        self.code = code
        self.details = details


# --- texts -------------------------------------------------------------------------------

_BARE_AMPERSAND = re.compile(r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)")


def check_text(text: str, *, with_photo: bool = False) -> str:
    """The text ready to send: a bare & escaped, valid HTML, within the length limit; else AnnouncementError."""
    if not text or not text.strip():
        raise AnnouncementError("empty")
    text = _BARE_AMPERSAND.sub("&amp;", text)  # "Q&A" as typed means a literal ampersand
    try:
        # The same rules the Bot API applies, so a broadcast never fails for every recipient.
        plain = parse_formatted(text, "HTML").plain
    except EntityParseError as error:
        raise AnnouncementError("html", reason=str(error)) from None
    limit = CAPTION_LIMIT if with_photo else TEXT_LIMIT
    length = utf16_len(plain)
    if length > limit:
        raise AnnouncementError("too_long", length=length, limit=limit)
    if not plain.strip():
        raise AnnouncementError("empty")
    return text


def text_for(texts: dict[str, str], locale: str | None) -> str:
    """The member's language, else English, else the first text given."""
    if locale and texts.get(locale):
        return texts[locale]
    if texts.get("en"):
        return texts["en"]
    return next(iter(texts.values()))


# --- audience ----------------------------------------------------------------------------

def clean_audience(raw: dict[str, Any]) -> dict[str, Any]:
    """Keep known keys with sane values; an empty dict means everyone."""
    audience: dict[str, Any] = {}
    for key in ("countries", "origins"):
        codes = sorted({str(code).upper() for code in raw.get(key) or [] if re.fullmatch(r"[A-Za-z]{2}", str(code))})
        if codes:
            audience[key] = codes
    cities = sorted({city for city in (parse_int(str(raw_city), ROW_ID) for raw_city in raw.get("cities") or [])
                     if not isinstance(city, NumberError)})
    if cities:
        audience["cities"] = cities
    for key in ("languages", "interests"):
        values = sorted({str(value).lower() for value in raw.get(key) or [] if re.fullmatch(r"[a-z_]{2,20}", str(value).lower())})
        if values:
            audience[key] = values
    radius = raw.get("radius")
    if radius:
        lat, lon = validate_coordinates(float(radius["lat"]), float(radius["lon"]))
        km = float(radius["km"])
        if not 0 < km <= 20000:
            raise AnnouncementError("radius")
        audience["radius"] = {"lat": lat, "lon": lon, "km": km}
    return audience


def matches(member: Member | Row[Any], audience: dict[str, Any]) -> bool:
    """Whether a member (or a row of the columns read here) belongs to the audience: every given
    criterion must hold (any value within one)."""
    if "countries" in audience and member.country_code not in audience["countries"]:
        return False
    if "cities" in audience and member.city_id not in audience["cities"]:
        return False
    if "origins" in audience and member.origin_country not in audience["origins"]:
        return False
    if "languages" in audience and not set(member.languages or []) & set(audience["languages"]):
        return False
    if "interests" in audience and not set(member.interests or []) & set(audience["interests"]):
        return False
    if "radius" in audience:
        area = audience["radius"]
        if member.latitude is None or member.longitude is None:
            return False
        if distance_km(area["lat"], area["lon"], member.latitude, member.longitude) > area["km"]:
            return False
    return True


def _reachable(audience: dict[str, Any]) -> list[Any]:
    """The conditions the database checks: registered, reachable, wants announcements, and the cheap
    column criteria; the list and distance criteria are left to `matches`."""
    conditions: list[Any] = [Member.registered_at.is_not(None), Member.is_active.is_(True), Member.notify_announcements.is_(True)]
    if "countries" in audience:
        conditions.append(Member.country_code.in_(audience["countries"]))
    if "cities" in audience:
        conditions.append(Member.city_id.in_(audience["cities"]))
    if "origins" in audience:
        conditions.append(Member.origin_country.in_(audience["origins"]))
    return conditions


async def audience_members(session: AsyncSession, audience: dict[str, Any]) -> list[Member]:
    """Registered, reachable members who want announcements and match the audience."""
    members = (await session.scalars(select(Member).where(*_reachable(audience)).order_by(Member.id))).all()
    return [member for member in members if matches(member, audience)]


async def audience_size(session: AsyncSession, audience: dict[str, Any]) -> int:
    """How many members an audience reaches now: counted by the database when only column criteria
    are set, else over the few columns `matches` reads (never whole member rows: the composer
    counts again after each change of the audience)."""
    conditions = _reachable(audience)
    if not {"languages", "interests", "radius"} & audience.keys():
        return int(await session.scalar(select(func.count()).select_from(Member).where(*conditions)) or 0)
    rows = await session.execute(select(Member.country_code, Member.city_id, Member.origin_country, Member.languages,
                                        Member.interests, Member.latitude, Member.longitude).where(*conditions))
    return sum(1 for row in rows if matches(row, audience))


# --- quiet hours -------------------------------------------------------------------------

# --- scheduling --------------------------------------------------------------------------

def parse_recurrence(value: str) -> tuple[str, int | None, time, str]:
    """'daily@09:00@Europe/Berlin' or 'weekly:0@09:00@Asia/Almaty' (0 = Monday) → parts."""
    match = _RECURRENCE.match(value)
    if not match:
        raise AnnouncementError("recurrence")
    kind, hour, minute, zone = match.groups()
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise AnnouncementError("recurrence", zone=zone) from None
    weekday = int(kind.split(":")[1]) if kind.startswith("weekly") else None
    return ("weekly" if weekday is not None else "daily"), weekday, time(int(hour), int(minute)), zone


def recurrence_text(clock: time, zone: str, weekday: int | None = None) -> str:
    """How a repeat is stored: every day ('daily@09:00@Europe/Berlin') or every `weekday` (0 = Monday:
    'weekly:0@09:00@Asia/Almaty') at `clock` in `zone`; parse_recurrence reads it back. Refuses
    (recurrence) a zone whose name makes it longer than the column holds."""
    kind = "daily" if weekday is None else f"weekly:{weekday}"
    value = f"{kind}@{clock:%H:%M}@{zone}"
    if len(value) > RECURRENCE_MAX:
        raise AnnouncementError("recurrence", zone=zone)
    parse_recurrence(value)  # one grammar: nothing is stored that it could not read back
    return value


def next_occurrence(recurrence: str, after: datetime) -> datetime:
    """The first time the recurrence fires strictly after `after`, in UTC."""
    _kind, weekday, at, zone_name = parse_recurrence(recurrence)
    zone = ZoneInfo(zone_name)
    local = after.astimezone(zone)
    for days in range(0, 8):
        day = local.date() + timedelta(days=days)
        if weekday is not None and day.weekday() != weekday:
            continue
        candidate = datetime.combine(day, at, tzinfo=zone)
        if candidate > local:
            return candidate.astimezone(after.tzinfo)
    raise AssertionError("a week always holds the next occurrence")


@dataclass
class Draft:
    """What the secretariat composed: texts per locale, audience, when, options."""

    texts: dict[str, str]
    audience: dict[str, Any]
    send_at: datetime | None = None  # None: now
    recurrence: str | None = None
    urgent: bool = False
    photo_file_id: str | None = None
    link_url: str | None = None
    link_text: str | None = None


async def schedule(session: AsyncSession, draft: Draft, created_by: int | None, *, now: datetime | None = None,
                   progress: tuple[int, int] | None = None) -> Announcement:
    """Validate and store an announcement for the engine; refuses bad HTML, long text, past times, empty audiences."""
    return (await _schedule(session, draft, created_by, now or utcnow(), progress)).announcement


@dataclass(frozen=True)
class Confirmed:
    """A draft scheduled from the composer, and how many members its audience reached (counted once)."""

    announcement: Announcement
    audience_size: int


async def confirm(session: AsyncSession, draft: Draft, created_by: int | None, *, replaces: int | None = None,
                  now: datetime | None = None) -> Confirmed:
    """Schedule the composer's draft (as `schedule` does); an edit of a scheduled announcement
    (`replaces`, its id) cancels that one, if it has not gone out meanwhile."""
    confirmed = await _schedule(session, draft, created_by, now or utcnow(), None)
    old = await session.get(Announcement, replaces) if replaces else None
    if old is not None:
        await cancel(session, old, created_by)
    return confirmed


def track_progress(announcement: Announcement, chat_id: int, message_id: int) -> None:
    """The message the engine edits as it sends (bot/announce_report.py)."""
    announcement.progress_chat_id, announcement.progress_message_id = chat_id, message_id


async def _schedule(session: AsyncSession, draft: Draft, created_by: int | None, now: datetime,
                    progress: tuple[int, int] | None) -> Confirmed:
    texts = {locale: text for locale, text in draft.texts.items() if locale in LOCALES and text and text.strip()}
    if not texts:
        raise AnnouncementError("empty")
    texts = {locale: check_text(text, with_photo=draft.photo_file_id is not None) for locale, text in texts.items()}
    audience = clean_audience(draft.audience)
    size = await audience_size(session, audience)
    if size == 0:
        raise AnnouncementError("empty_audience")
    send_at = draft.send_at
    if draft.recurrence:
        send_at = next_occurrence(draft.recurrence, now)
    elif send_at is not None and send_at < now - timedelta(minutes=1):
        raise AnnouncementError("past")
    link_url = None
    if draft.link_url:
        try:
            link_url = clean_link(draft.link_url)
        except InvalidLink as error:
            raise AnnouncementError("link") from error
    announcement = Announcement(
        created_by=created_by,
        texts=texts,
        audience=audience,
        status=AnnouncementStatus.SCHEDULED.value,
        urgent=draft.urgent,
        send_at=send_at or now,
        recurrence=draft.recurrence,
        photo_file_id=draft.photo_file_id,
        link_url=link_url,
        link_text=(draft.link_text or "")[:64] or None,
        progress_chat_id=progress[0] if progress else None,
        progress_message_id=progress[1] if progress else None,
    )
    session.add(announcement)
    await session.flush()
    await Repo(session).audit.record("announcement.scheduled", actor_id=created_by, announcement_id=announcement.id,
                                     audience=audience, recurrence=draft.recurrence)
    return Confirmed(announcement, size)


async def cancel(session: AsyncSession, announcement: Announcement, actor_id: int | None) -> bool:
    """Cancel a scheduled or recurring announcement (and its unsent deliveries)."""
    if announcement.status not in CHANGEABLE:
        return False
    announcement.status = AnnouncementStatus.CANCELLED.value
    pending = await session.scalars(
        select(Delivery).where(Delivery.announcement_id == announcement.id, Delivery.status == DeliveryStatus.PENDING.value)
    )
    for delivery in pending:
        await session.delete(delivery)
    await Repo(session).audit.record("announcement.cancelled", actor_id=actor_id, announcement_id=announcement.id)
    return True


@dataclass
class Counts:
    total: int
    sent: int
    blocked: int
    failed: int
    pending: int
    deferred: int


async def counts(session: AsyncSession, announcement: Announcement, now: datetime | None = None) -> Counts:
    """Delivery figures of one announcement (totals survive members erasing themselves)."""
    now = now or utcnow()
    rows = dict(
        (await session.execute(
            select(Delivery.status, func.count()).where(Delivery.announcement_id == announcement.id).group_by(Delivery.status)
        )).all()
    )
    deferred = await session.scalar(
        select(func.count()).select_from(Delivery).where(
            Delivery.announcement_id == announcement.id, Delivery.status == DeliveryStatus.PENDING.value, Delivery.not_before > now
        )
    ) or 0
    sent, blocked, failed = _totals(announcement, rows)
    pending = rows.get(DeliveryStatus.PENDING.value, 0)
    return Counts(sent + blocked + failed + pending, sent, blocked, failed, pending, deferred)


def _totals(announcement: Announcement, rows: dict[str, int]) -> tuple[int, int, int]:
    """Sent, blocked, failed: the larger of the totals kept and the rows left (totals survive members erasing themselves)."""
    return (max(announcement.sent_count, rows.get(DeliveryStatus.SENT.value, 0)),
            max(announcement.blocked_count, rows.get(DeliveryStatus.BLOCKED.value, 0)),
            max(announcement.failed_count, rows.get(DeliveryStatus.FAILED.value, 0)))


@dataclass(frozen=True)
class Upcoming:
    """A scheduled or recurring announcement as /scheduled lists it."""

    id: int
    texts: dict[str, str]
    send_at: datetime | None
    repeat: Repeat | None  # None for a one-off


@dataclass(frozen=True)
class Repeat:
    """A stored recurrence read back: every day, or every `weekday` (0 = Monday), at `clock` in `zone`."""

    mode: str  # "daily" or "weekly"
    weekday: int | None
    clock: time
    zone: str

    @classmethod
    def read(cls, recurrence: str) -> Repeat:
        return cls(*parse_recurrence(recurrence))


@dataclass(frozen=True)
class Finished:
    """A sent or cancelled announcement with its delivery figures."""

    id: int
    cancelled: bool
    sent: int
    blocked: int
    failed: int


@dataclass(frozen=True)
class ScheduledList:
    """What /scheduled shows: the next ones to go out, soonest first, and the latest finished."""

    upcoming: list[Upcoming]
    finished: list[Finished]


async def scheduled_list(session: AsyncSession, *, limit: int = 10) -> ScheduledList:
    """Pending and recurring announcements, and the latest finished ones with their figures (one query for all)."""
    upcoming = (await session.scalars(
        select(Announcement).where(Announcement.status.in_(CHANGEABLE)).order_by(Announcement.send_at, Announcement.id).limit(limit)
    )).all()
    finished = (await session.scalars(
        select(Announcement).where(Announcement.status.in_(FINISHED)).order_by(Announcement.id.desc()).limit(limit)
    )).all()
    by_status: dict[int, dict[str, int]] = {item.id: {} for item in finished}
    if finished:
        rows = await session.execute(
            select(Delivery.announcement_id, Delivery.status, func.count())
            .where(Delivery.announcement_id.in_(list(by_status))).group_by(Delivery.announcement_id, Delivery.status))
        for announcement_id, status, number in rows:
            by_status[announcement_id][status] = number
    return ScheduledList(
        [Upcoming(item.id, dict(item.texts), item.send_at, Repeat.read(item.recurrence) if item.recurrence else None)
         for item in upcoming],
        [Finished(item.id, item.status == AnnouncementStatus.CANCELLED.value, *_totals(item, by_status[item.id]))
         for item in finished])


async def changeable(session: AsyncSession, announcement_id: int) -> Announcement | None:
    """The announcement if it can still be cancelled or edited (scheduled, recurring or sending), else None."""
    announcement = await session.get(Announcement, announcement_id)
    return announcement if announcement is not None and announcement.status in CHANGEABLE else None
