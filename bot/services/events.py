"""Events: drafts and their validation, submission, RSVPs with a waitlist, reminders, follows,
the audience of a new event, and representatives' roles. Moderation lives in
bot/services/moderation.py (re-exported here for its old callers)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy import text as sql
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import City, distance_km, get_gazetteer, timezone_at, validate_coordinates
from bot.services.members import member_event_data, members_by_telegram_ids  # noqa: F401  (old home)
from bot.services.timeutil import in_quiet_hours, zone_of  # noqa: F401  (in_quiet_hours: old home)
from bot.services.vocab import EVENT_CATEGORIES, EVENT_LANGUAGES
from bot.numbers import IntRange, NumberError, parse_int
from bot.services import validate
from bot.services.paging import Page
from bot.services.errors import EventNotFound, InvalidEventField, NotAllowed, WrongStatus  # noqa: F401  (old home)
from bot.services.validate import CONTROL, bounded
from bot.services.roles import is_secretariat, represents
from db.models import Event, EventStatus, Follow, Member, Organisation, Role, RoleName, Rsvp, RsvpStatus
from db.repositories import Repo

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
LINK_MAX = validate.LINK_MAX
VENUE_MAX = 300
CAPACITY_MAX = 100_000
CAPACITY = IntRange(1, CAPACITY_MAX)
GUESTS_MAX = 3
MAX_AHEAD = timedelta(days=730)
MAX_DURATION = timedelta(days=14)
REMINDER_24H = timedelta(hours=24)
REMINDER_1H = timedelta(hours=1)
# The radius search prefilters members with a box this wide; RADII_KM tops out at 100.
AUDIENCE_MAX_RADIUS_KM = 500


# --- validation --------------------------------------------------------------------------

def clean_title(raw: str | None) -> str:
    """A title on one line, 1–120 characters."""
    return bounded(" ".join((raw or "").split()), TITLE_MAX, "title")


def clean_description(raw: str | None) -> str:
    """A description up to 2000 characters; line breaks kept, control characters dropped."""
    return bounded(CONTROL.sub("", (raw or "").strip()), DESCRIPTION_MAX, "description")


def clean_link(raw: str | None) -> str:
    """An http(s) link with a host (bot/services/validate.py); `example.org/x` becomes `https://example.org/x`."""
    try:
        return validate.clean_link(raw)
    except validate.InvalidLink as error:
        raise InvalidEventField("link") from error


def clean_category(raw: object) -> str:
    """An event category from EVENT_CATEGORIES: the form's buttons and the importer's column both check here."""
    value = raw.strip() if isinstance(raw, str) else raw
    if value not in EVENT_CATEGORIES:
        raise InvalidEventField("category")
    return value  # type: ignore[return-value]


def clean_capacity(raw: str | None, locale: str | None = None) -> int:
    """A whole number of places, 1–100000 ("1 000" too), in ASCII digits or the locale's own."""
    value = parse_int(raw, CAPACITY, locale, grouping=True)
    if isinstance(value, NumberError):
        raise InvalidEventField("capacity")
    return value


_FULL = (
    re.compile(r"^(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4})[ ,T]+(?P<H>\d{1,2})[:.](?P<M>\d{2})$", re.ASCII),
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})[ T]+(?P<H>\d{1,2})[:.](?P<M>\d{2})$", re.ASCII),
)
_SHORT = re.compile(r"^(?P<d>\d{1,2})[./](?P<m>\d{1,2})[ ,T]+(?P<H>\d{1,2})[:.](?P<M>\d{2})$", re.ASCII)
_TIME = re.compile(r"^(?P<H>\d{1,2})[:.](?P<M>\d{2})$", re.ASCII)


def parse_local(text: str, zone: str, now: datetime, on_date: date | None = None) -> datetime:
    """A wall-clock time as people type it (`25.12.2026 18:30`, `2026-12-25 18:30`, `25/12 18:30`,
    or `18:30` after a date button) in the venue's zone; returns a naive local datetime.

    A year left out means the next such day that is still ahead."""
    text = " ".join((text or "").split())
    local_now = now.astimezone(zone_of(zone)).replace(tzinfo=None)
    match = next((m for m in (p.match(text) for p in _FULL) if m), None)
    try:
        if match:
            value = datetime(int(match["y"]), int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]))
        elif (match := _SHORT.match(text)) is not None:
            value = datetime(local_now.year, int(match["m"]), int(match["d"]), int(match["H"]), int(match["M"]))
            if value < local_now:
                value = value.replace(year=local_now.year + 1)
        elif on_date is not None and (match := _TIME.match(text)) is not None:
            value = datetime.combine(on_date, time(int(match["H"]), int(match["M"])))
        else:
            raise InvalidEventField("date_format")
    except ValueError as error:  # 31.02, 25:00
        raise InvalidEventField("date_format") from error
    return value


def to_utc(local: datetime, zone: str) -> datetime:
    """A naive wall-clock time in `zone` as a UTC instant; a time skipped by a clock change is refused."""
    tz = zone_of(zone)
    aware = local.replace(tzinfo=tz)
    instant = aware.astimezone(timezone.utc)
    if instant.astimezone(tz).replace(tzinfo=None) != local:
        raise InvalidEventField("nonexistent_time")
    return instant


def check_start(starts_at: datetime, now: datetime) -> None:
    """The start must be ahead, and at most two years ahead."""
    if starts_at <= now:
        raise InvalidEventField("past")
    if starts_at > now + MAX_AHEAD:
        raise InvalidEventField("too_far")


def check_end(starts_at: datetime, ends_at: datetime) -> None:
    """The end comes after the start, within two weeks."""
    if ends_at <= starts_at:
        raise InvalidEventField("end_before_start")
    if ends_at - starts_at > MAX_DURATION:
        raise InvalidEventField("too_long_duration")


def parse_end(text: str, zone: str, start_local: datetime, now: datetime) -> datetime:
    """The end as typed: a full date and time, or only a time on the start's day."""
    return parse_local(text, zone, now, on_date=start_local.date())


# --- venues ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Venue:
    """Where an event takes place, and the zone its times are in."""

    name: str | None
    city: str | None
    country_code: str | None
    latitude: float
    longitude: float
    timezone: str
    city_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def venue_from_location(latitude: float, longitude: float) -> Venue:
    """A shared location: the nearest city names it, the coordinates decide the zone."""
    lat, lon = validate_coordinates(latitude, longitude)
    city = get_gazetteer().nearest(lat, lon)
    zone = timezone_at(lat, lon) or (city.timezone if city else None)
    if zone is None:
        raise InvalidEventField("venue_not_found")
    return Venue(None, city.name if city else None, city.country_code if city else None,
                 round(lat, 5), round(lon, 5), zone, city.geoname_id if city else None)


def venue_from_city(city: City, address: str | None) -> Venue:
    """A typed address in a gazetteer city (we place it at the city's coordinates)."""
    name = " ".join((address or "").split())[:VENUE_MAX] or None
    return Venue(name, city.name, city.country_code, round(city.latitude, 5), round(city.longitude, 5),
                 city.timezone or timezone_at(city.latitude, city.longitude) or "UTC", city.geoname_id)


def split_address(text: str) -> tuple[str | None, str]:
    """`Kulturhaus, Hauptstr. 5, Berlin` → (`Kulturhaus, Hauptstr. 5`, `Berlin`): the city comes last."""
    parts = [p.strip() for p in (text or "").split(",") if p.strip()]
    if not parts:
        raise InvalidEventField("venue_not_found")
    if len(parts) == 1:
        return None, parts[0]
    return ", ".join(parts[:-1]), parts[-1]


def find_venue_cities(text: str, limit: int = 5) -> tuple[str | None, list[City]]:
    """The address part and the cities its last part may be; refuses when none is found."""
    address, city_text = split_address(text[:VENUE_MAX + 100])
    cities = get_gazetteer().search(city_text[:100], limit=limit)
    if not cities:
        raise InvalidEventField("venue_not_found")
    return address, cities


# --- drafts ------------------------------------------------------------------------------

DRAFT_FIELDS = ("title", "description", "venue", "start_local", "end_local", "languages", "category", "capacity", "link")


def draft_from_event(event: Event) -> dict[str, Any]:
    """A form draft holding an existing event's values (times as the venue's wall clock)."""
    zone = zone_of(event.timezone)
    return {
        "organisation_id": event.organisation_id,
        "title": event.title,
        "description": event.description,
        "venue": Venue(event.venue, event.city, event.country_code, event.latitude or 0.0, event.longitude or 0.0,
                       event.timezone).as_dict(),
        "start_local": event.starts_at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes"),
        "end_local": event.ends_at.astimezone(zone).replace(tzinfo=None).isoformat(timespec="minutes") if event.ends_at else None,
        "languages": list(event.languages or []),
        "category": event.category,
        "capacity": event.capacity,
        "link": event.link,
    }


def event_from_draft(draft: dict[str, Any], now: datetime, into: Event | None = None) -> Event:
    """Validate a whole draft again and fill an Event (new and unsaved unless `into` is given)."""
    venue = draft.get("venue") or {}
    zone = venue.get("timezone")
    if not zone or not draft.get("start_local"):
        raise InvalidEventField("incomplete")
    starts_at = to_utc(datetime.fromisoformat(draft["start_local"]), zone)
    check_start(starts_at, now)
    ends_at = None
    if draft.get("end_local"):
        ends_at = to_utc(datetime.fromisoformat(draft["end_local"]), zone)
        check_end(starts_at, ends_at)
    if draft.get("category") not in EVENT_CATEGORIES:
        raise InvalidEventField("incomplete")
    category = clean_category(draft["category"])
    capacity = draft.get("capacity")
    if capacity is not None:
        capacity = clean_capacity(str(capacity))
    event = into if into is not None else Event()
    event.organisation_id = int(draft["organisation_id"])
    event.title = clean_title(draft.get("title"))
    event.description = clean_description(draft.get("description"))
    event.starts_at, event.ends_at, event.timezone = starts_at, ends_at, zone
    event.venue = (venue.get("name") or None) and venue["name"][:VENUE_MAX]
    event.city, event.country_code = venue.get("city"), venue.get("country_code")
    event.latitude, event.longitude = venue.get("latitude"), venue.get("longitude")
    event.languages = [code for code in draft.get("languages") or [] if code in EVENT_LANGUAGES]
    event.category = category
    event.capacity = int(capacity) if capacity is not None else None
    event.link = clean_link(draft["link"]) if draft.get("link") else None
    return event


# --- organisations and roles -------------------------------------------------------------

async def represented_organisations(session: AsyncSession, member: Member | None) -> list[Organisation]:
    """Active organisations the member represents, by name."""
    if member is None:
        return []
    rows = await session.scalars(
        select(Organisation).join(Role, Role.organisation_id == Organisation.id)
        .where(Role.member_id == member.id, Role.role == RoleName.ORG_REP.value, Organisation.is_active.is_(True))
        .order_by(Organisation.name, Organisation.id)
    )
    return list(rows.unique())


async def grant_role(session: AsyncSession, telegram_id: int, organisation_id: int, granted_by: int | None = None) -> Role:
    """Make a registered member a representative of an organisation (idempotent); audited."""
    member = await Repo(session).members.by_telegram_id(telegram_id)
    if member is None:
        raise LookupError("member")
    if await session.get(Organisation, organisation_id) is None:
        raise LookupError("organisation")
    role = await session.scalar(select(Role).where(
        Role.member_id == member.id, Role.role == RoleName.ORG_REP.value, Role.organisation_id == organisation_id))
    if role is None:
        role = Role(member_id=member.id, role=RoleName.ORG_REP.value, organisation_id=organisation_id, granted_by=granted_by)
        session.add(role)
        await session.flush()
        await Repo(session).audit.record("role.granted", actor_id=granted_by, member_id=member.id,
                                         role=RoleName.ORG_REP.value, organisation_id=organisation_id)
    return role


async def revoke_role(session: AsyncSession, telegram_id: int, organisation_id: int, revoked_by: int | None = None) -> bool:
    """Take a representative role away; False when the member did not hold it. Audited."""
    member = await Repo(session).members.by_telegram_id(telegram_id)
    if member is None:
        return False
    result = await session.execute(delete(Role).where(
        Role.member_id == member.id, Role.role == RoleName.ORG_REP.value, Role.organisation_id == organisation_id))
    if not result.rowcount:
        return False
    await Repo(session).audit.record("role.revoked", actor_id=revoked_by, member_id=member.id,
                                     role=RoleName.ORG_REP.value, organisation_id=organisation_id)
    return True


async def set_trusted(session: AsyncSession, actor: Member | None, organisation_id: int, trusted: bool,
                      secretariat_ids: frozenset[int]) -> Organisation:
    """Mark an organisation trusted (its events skip moderation) or not; secretariat only, audited."""
    if not await is_secretariat(session, actor, secretariat_ids):
        raise NotAllowed()
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise LookupError("organisation")
    organisation.trusted = trusted
    await session.flush()
    await Repo(session).audit.record("organisation.trusted" if trusted else "organisation.untrusted",
                                     actor_id=actor.id if actor else None, organisation_id=organisation_id)
    return organisation


# --- submission and moderation -----------------------------------------------------------

async def get_event(session: AsyncSession, event_id: int) -> Event | None:
    """Any event by id, whatever its status."""
    return await session.get(Event, event_id)


async def submitting_organisation(session: AsyncSession, member: Member | None, draft: dict[str, Any]) -> Organisation:
    """The draft's organisation, when it is listed and the member represents it (else NotAllowed)."""
    organisation_id = int(draft.get("organisation_id") or 0)
    if not await represents(session, member, organisation_id):
        raise NotAllowed()
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not organisation.is_active:
        raise NotAllowed()
    return organisation


async def submit_event(session: AsyncSession, member: Member | None, draft: dict[str, Any], now: datetime) -> Event:
    """Create an event from a finished draft: pending, or approved at once for a trusted organisation."""
    organisation = await submitting_organisation(session, member, draft)
    assert member is not None
    organisation_id = organisation.id
    event = event_from_draft(draft, now)
    event.submitted_by = member.id
    event.status = EventStatus.APPROVED.value if organisation.trusted else EventStatus.PENDING.value
    event.created_at = now
    session.add(event)
    await session.flush()
    await Repo(session).audit.record("event.submitted", actor_id=member.id, event_id=event.id, organisation_id=organisation_id)
    if organisation.trusted:
        await Repo(session).audit.record("event.approved", actor_id=None, event_id=event.id, trusted=True, at=now.isoformat())
    return event


async def _event_to_manage(session: AsyncSession, member: Member | None, event_id: int) -> Event:
    """The event, locked, if the member represents its organisation and it is not cancelled."""
    event = await session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise EventNotFound()
    if not await represents(session, member, event.organisation_id):
        raise NotAllowed()
    if event.status == EventStatus.CANCELLED.value:
        raise WrongStatus(event.status)
    return event


async def update_event(session: AsyncSession, member: Member | None, event_id: int, draft: dict[str, Any], now: datetime) -> Event:
    """A representative's edit; an approved or rejected event goes back to moderation (unless trusted)."""
    event = await _event_to_manage(session, member, event_id)
    draft = {**draft, "organisation_id": event.organisation_id}  # an edit never moves an event to another organisation
    event_from_draft(draft, now, into=event)
    organisation = await session.get(Organisation, event.organisation_id)
    event.status = EventStatus.APPROVED.value if organisation is not None and organisation.trusted else EventStatus.PENDING.value
    event.reject_reason = None
    event.updated_at = now
    await session.flush()
    await Repo(session).audit.record("event.edited", actor_id=member.id, event_id=event.id, status=event.status)
    return event


async def check_can_manage(session: AsyncSession, member: Member | None, event_id: int,
                           secretariat_ids: frozenset[int] | None = None) -> Event:
    """The event, when the member represents its organisation; with `secretariat_ids` (SECRETARIAT_IDS,
    even empty) the secretariat too, listed there or granted the role in the database."""
    event = await session.get(Event, event_id)
    if event is None:
        raise EventNotFound()
    if await represents(session, member, event.organisation_id):
        return event
    if secretariat_ids is not None and await is_secretariat(session, member, secretariat_ids):
        return event
    raise NotAllowed()


async def cancel_event(session: AsyncSession, member: Member | None, event_id: int, now: datetime) -> tuple[Event, list[Member]]:
    """A representative cancels; returns the event and every active member who answered its RSVP."""
    event = await _event_to_manage(session, member, event_id)
    event.status, event.updated_at = EventStatus.CANCELLED.value, now
    await session.flush()
    await Repo(session).audit.record("event.cancelled", actor_id=member.id, event_id=event.id, at=now.isoformat())
    rows = await session.scalars(
        select(Member).join(Rsvp, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event.id, Member.is_active.is_(True)).order_by(Rsvp.id)
    )
    return event, list(rows)


async def events_of_representative(session: AsyncSession, member: Member | None, now: datetime, limit: int = 10) -> list[Event]:
    """Upcoming events (any status but cancelled) of the organisations the member represents."""
    organisations = [o.id for o in await represented_organisations(session, member)]
    if not organisations:
        return []
    rows = await session.scalars(
        select(Event).where(Event.organisation_id.in_(organisations), Event.starts_at > now,
                            Event.status != EventStatus.CANCELLED.value)
        .order_by(Event.starts_at, Event.id).limit(limit)
    )
    return list(rows)


# --- RSVP --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RsvpCounts:
    going: int = 0
    guests: int = 0
    maybe: int = 0
    not_going: int = 0
    waitlisted: int = 0
    capacity: int | None = None

    @property
    def seats_taken(self) -> int:
        return self.going + self.guests

    @property
    def seats_left(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - self.seats_taken)


# Places go in tap order. Telegram numbers updates in the order it received them (update_id), and
# a tap is recorded with that number as its place in the event's line; but taps reach the lock in
# any order (other processes, SQLite's busy wait, a slow statement). So a Going tap on an event
# short of places is not seated on arrival: it joins the line and waits SETTLE, time for earlier
# taps to be recorded, and then the line is seated from its head while places last. Nobody seated
# is ever moved back to the waitlist; an earlier tap that comes later still than SETTLE queues
# ahead of the later taps that wait.
SETTLE = timedelta(seconds=1)
# With this many places to spare beyond everyone in line, a Going tap is seated at once: the earlier
# taps that may still be on their way (each process has at most 64 updates in flight) cannot run out.
SLACK = 64
# A waiting tap is answered within this long even if an earlier tap ahead of it has not settled: it
# is told it waits, and hears from the worker when its place comes.
ANSWER_WITHIN = timedelta(seconds=8)
# A tap still unanswered after this long lost its answer (its process died): seated, it is told by the worker.
ORPHANED = timedelta(minutes=1)


@dataclass
class RsvpResult:
    rsvp: Rsvp
    event: Event
    promoted: list[Member] = field(default_factory=list)
    pending: bool = False  # the Going waits for its turn: `admit` decides once earlier taps had SETTLE


@dataclass
class Admission:
    """What `admit` found for one member's waiting Going."""

    rsvp: Rsvp | None
    event: Event
    promoted: list[Member]  # others seated now who must be told (through the notices queue)
    decided: bool  # the member may be told where they stand: seated, or waiting behind a full house
    retry_at: datetime | None = None  # undecided: when the earlier tap ahead of them settles


async def rsvp_counts(session: AsyncSession, event: Event) -> RsvpCounts:
    """How many are going (and their guests), maybe, not going, and waiting."""
    rows = (await session.execute(
        select(Rsvp.status, Rsvp.waitlisted, func.count(), func.coalesce(func.sum(Rsvp.guests), 0))
        .where(Rsvp.event_id == event.id).group_by(Rsvp.status, Rsvp.waitlisted)
    )).all()
    going = guests = maybe = not_going = waiting = 0
    for status, waitlisted, count, guest_sum in rows:
        if status == RsvpStatus.GOING.value and waitlisted:
            waiting += count
        elif status == RsvpStatus.GOING.value:
            going, guests = going + count, guests + int(guest_sum)
        elif status == RsvpStatus.MAYBE.value:
            maybe += count
        else:
            not_going += count
    return RsvpCounts(going, guests, maybe, not_going, waiting, event.capacity)


async def member_rsvp(session: AsyncSession, member: Member | None, event_id: int) -> Rsvp | None:
    """The member's answer to an event, if any."""
    if member is None:
        return None
    return await session.scalar(select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.member_id == member.id))


async def _seats(session: AsyncSession, event_id: int, *, waiting: bool) -> int:
    """Places taken (people and guests) by those seated, or asked for by those in line."""
    going = (Rsvp.event_id == event_id, Rsvp.status == RsvpStatus.GOING.value, Rsvp.waitlisted.is_(waiting))
    count, guests = (await session.execute(select(func.count(), func.coalesce(func.sum(Rsvp.guests), 0)).where(*going))).one()
    return int(count) + int(guests)


async def _seats_taken(session: AsyncSession, event_id: int) -> int:
    return await _seats(session, event_id, waiting=False)


# The line: taps in tap order; answers from before positions existed came first, by id.
LINE_ORDER = (Rsvp.position.is_not(None), Rsvp.position, Rsvp.id)


async def _next_position(session: AsyncSession, event_id: int) -> int:
    """A place behind everyone in the event's line (an answer without a Telegram update)."""
    return int(await session.scalar(select(func.max(Rsvp.position)).where(Rsvp.event_id == event_id)) or 0) + 1


@dataclass
class _Walk:
    seated: list[Rsvp]
    stopped_at: Rsvp | None = None  # the first in line left waiting
    unsettled: bool = False  # it waits for its SETTLE (rather than for a place)


async def _walk(session: AsyncSession, event: Event, now: datetime) -> _Walk:
    """Seat the line from its head, in tap order, while places last; the head is never skipped,
    and a tap younger than SETTLE stops the walk (earlier taps may still be on their way)."""
    line = (await session.scalars(
        select(Rsvp).where(Rsvp.event_id == event.id, Rsvp.waitlisted.is_(True), Rsvp.status == RsvpStatus.GOING.value)
        .order_by(*LINE_ORDER)
    )).all()
    walk = _Walk([])
    free = None if event.capacity is None else event.capacity - await _seats_taken(session, event.id)
    for rsvp in line:
        if free is not None:
            if rsvp.queued_at is not None and rsvp.queued_at > now - SETTLE:
                walk.stopped_at, walk.unsettled = rsvp, True
                break
            if 1 + rsvp.guests > free:
                walk.stopped_at = rsvp
                break
            free -= 1 + rsvp.guests
        rsvp.waitlisted = False
        walk.seated.append(rsvp)
    await session.flush()
    return walk


async def _to_tell(session: AsyncSession, seated: list[Rsvp], now: datetime, member_id: int | None) -> list[Member]:
    """Who of those just seated must hear it from the worker: not `member_id` (who is answering
    now), nor a tap still waiting for its own answer, which tells them."""
    members = []
    for rsvp in seated:
        if rsvp.member_id == member_id or (rsvp.queued_at is not None and rsvp.queued_at > now - ORPHANED):
            continue
        rsvp.queued_at = None
        member = await session.get(Member, rsvp.member_id)
        if member is not None:
            members.append(member)
    await session.flush()
    return members


async def promote_waitlist(session: AsyncSession, event: Event, now: datetime | None = None) -> list[Member]:
    """After a change of capacity: give freed places to the line; returns who is to be told."""
    now = now or datetime.now(timezone.utc)
    walk = await _walk(session, event, now)
    return await _to_tell(session, walk.seated, now, None)


async def _lock_event(session: AsyncSession, event_id: int) -> Event | None:
    """The event row, locked until the transaction ends, on both databases.

    PostgreSQL: SELECT ... FOR UPDATE. SQLite ignores FOR UPDATE, and its transaction would only
    begin at the first write, after the places were counted; so a write comes first: a no-op
    UPDATE of the row takes SQLite's write lock (waiting out the busy timeout, off the loop), and
    every count that follows in this transaction is final until it commits."""
    if session.get_bind().dialect.name == "sqlite":
        await session.execute(sql("UPDATE events SET id = id WHERE id = :id"), {"id": event_id})
    return await session.get(Event, event_id, with_for_update=True, populate_existing=True)


async def set_rsvp(session: AsyncSession, member: Member | None, event_id: int, status: str, guests: int | None,
                   now: datetime, *, position: int | None = None) -> RsvpResult:
    """Answer an event: going (with 0–3 guests; waitlisted when full), maybe or not going.
    Freed places go to the line, whose promoted members are returned to be told.

    `position` is the tap's place in the event's line: its Telegram update id. A Going with a
    position that joins the line of an event short of places waits for its turn (`pending`: the
    caller calls `admit` after SETTLE). Without one (the Mini App) the answer is decided at once,
    behind everyone in line."""
    if member is None or member.registered_at is None:
        raise NotAllowed()
    if status not in {s.value for s in RsvpStatus}:
        raise InvalidEventField("rsvp")
    # One decision at a time per event: two last-place answers must not both win.
    event = await _lock_event(session, event_id)
    if event is None or event.status != EventStatus.APPROVED.value or event.starts_at <= now:
        raise EventNotFound()
    rsvp = await member_rsvp(session, member, event_id)
    if guests is not None and not 0 <= guests <= GUESTS_MAX:
        raise InvalidEventField("guests")
    if rsvp is None:
        rsvp = Rsvp(event_id=event_id, member_id=member.id, status=RsvpStatus.NOT_GOING.value, guests=0, waitlisted=False)
        session.add(rsvp)
        # Within a day of the start the member has just seen it: no "tomorrow" reminder.
        rsvp.reminded_24h = event.starts_at - now <= REMINDER_24H
        rsvp.reminded_1h = event.starts_at - now <= REMINDER_1H
        await session.flush()
    holding = rsvp.status == RsvpStatus.GOING.value and not rsvp.waitlisted
    waiting = rsvp.status == RsvpStatus.GOING.value and rsvp.waitlisted
    going = status == RsvpStatus.GOING.value
    new_guests = (rsvp.guests if guests is None else guests) if going else 0
    if going and event.capacity is not None and holding:
        others = await _seats_taken(session, event.id) - (1 + rsvp.guests)
        if others + 1 + new_guests > event.capacity:
            raise InvalidEventField("no_room_for_guests")  # keep the seat rather than lose it to the waitlist
    elif going and event.capacity is not None and not waiting:  # joins the line, at its tap's place
        spare = event.capacity - await _seats(session, event.id, waiting=False) \
            - await _seats(session, event.id, waiting=True) - (1 + new_guests)
        rsvp.position = position if position is not None else await _next_position(session, event.id)
        rsvp.waitlisted = spare < SLACK
        rsvp.queued_at = now if rsvp.waitlisted and position is not None else None
    elif not going or event.capacity is None:
        rsvp.waitlisted, rsvp.position, rsvp.queued_at = False, None, None
    rsvp.status, rsvp.guests = status, new_guests
    await session.flush()
    walk = await _walk(session, event, now)
    promoted = await _to_tell(session, walk.seated, now, member.id)
    pending = rsvp.waitlisted and rsvp.queued_at is not None
    if not pending:
        rsvp.queued_at = None  # told now
    await session.flush()
    await session.refresh(rsvp)
    return RsvpResult(rsvp, event, promoted, pending)


async def admit(session: AsyncSession, member_id: int, event_id: int, now: datetime, *, last: bool = False) -> Admission | None:
    """A waiting Going tap's turn (SETTLE after it was recorded): seat the line in tap order and
    say whether the member can be told where they stand; `last` tells them anyway (they wait in
    line). None when the event is gone."""
    event = await _lock_event(session, event_id)
    if event is None:
        return None
    walk = _Walk([])
    if event.status == EventStatus.APPROVED.value and event.starts_at > now:
        walk = await _walk(session, event, now)
    promoted = await _to_tell(session, walk.seated, now, member_id)
    rsvp = await session.scalar(select(Rsvp).where(Rsvp.event_id == event_id, Rsvp.member_id == member_id))
    waiting = rsvp is not None and rsvp.status == RsvpStatus.GOING.value and rsvp.waitlisted
    if waiting and walk.unsettled and not last:
        assert walk.stopped_at is not None and walk.stopped_at.queued_at is not None
        return Admission(rsvp, event, promoted, False, walk.stopped_at.queued_at + SETTLE)
    if rsvp is not None:
        rsvp.queued_at = None  # told now
        await session.flush()
    return Admission(rsvp, event, promoted, True)


@dataclass(frozen=True)
class Attendee:
    name: str
    status: str
    guests: int
    waitlisted: bool


AttendeePage = Page[Attendee]


async def attendees(session: AsyncSession, member: Member | None, event_id: int, secretariat_ids: frozenset[int],
                    offset: int = 0, limit: int = 50) -> AttendeePage:
    """Who answered going or maybe, one page; for the organisation's representatives and the secretariat."""
    await check_can_manage(session, member, event_id, secretariat_ids)
    if offset < 0 or not 1 <= limit <= 100:
        raise ValueError("page")
    where = (Rsvp.event_id == event_id, Rsvp.status.in_((RsvpStatus.GOING.value, RsvpStatus.MAYBE.value)))
    total = await session.scalar(select(func.count()).select_from(Rsvp).where(*where)) or 0
    rows = (await session.execute(
        select(Member.display_name, Rsvp.status, Rsvp.guests, Rsvp.waitlisted)
        .join(Member, Member.id == Rsvp.member_id).where(*where)
        .order_by(Rsvp.waitlisted, Rsvp.status, *LINE_ORDER).offset(offset).limit(limit)
    )).all()
    items = [Attendee(name or "—", status, guests, waitlisted) for name, status, guests, waitlisted in rows]
    return Page(items, total, offset, limit)


# --- reminders ---------------------------------------------------------------------------

@dataclass(frozen=True)
class DueReminder:
    rsvp_id: int
    kind: str  # "24h" or "1h"
    event: Event
    member: Member


async def due_reminders(session: AsyncSession, now: datetime, limit: int = 500) -> list[DueReminder]:
    """Reminders to send now: 24 h and 1 h before the start, to members going or maybe who want them.
    A run that was late sends only the nearer one."""
    rows = (await session.execute(
        select(Rsvp, Event, Member)
        .join(Event, Event.id == Rsvp.event_id).join(Member, Member.id == Rsvp.member_id)
        .where(
            Event.status == EventStatus.APPROVED.value, Event.starts_at > now, Event.starts_at <= now + REMINDER_24H,
            Rsvp.status.in_((RsvpStatus.GOING.value, RsvpStatus.MAYBE.value)), Rsvp.waitlisted.is_(False),
            or_(Rsvp.reminded_24h.is_(False), Rsvp.reminded_1h.is_(False)),
            Member.is_active.is_(True), Member.notify_reminders.is_(True),
        )
        .order_by(Event.starts_at, Rsvp.id).limit(limit)
    )).all()
    due: list[DueReminder] = []
    for rsvp, event, member in rows:
        if event.starts_at - now <= REMINDER_1H:
            if not rsvp.reminded_1h:
                due.append(DueReminder(rsvp.id, "1h", event, member))
        elif not rsvp.reminded_24h:
            due.append(DueReminder(rsvp.id, "24h", event, member))
    return due


async def mark_reminded(session: AsyncSession, rsvp_id: int, kind: str) -> None:
    """Record a sent reminder (the 1 h one covers the 24 h one too), so a restart never repeats it."""
    rsvp = await session.get(Rsvp, rsvp_id)
    if rsvp is None:
        return
    rsvp.reminded_24h = True
    if kind == "1h":
        rsvp.reminded_1h = True
    await session.flush()


async def set_reminders(session: AsyncSession, member: Member, enabled: bool) -> None:
    """Turn event reminders on or off for the member."""
    member.notify_reminders = enabled
    await session.flush()


# --- follows and the audience of a new event ---------------------------------------------

async def follow(session: AsyncSession, member: Member, *, city_id: int | None = None, organisation_id: int | None = None) -> bool:
    """Follow a city or an organisation; False when already followed."""
    if (city_id is None) == (organisation_id is None):
        raise ValueError("follow one city or one organisation")
    if city_id is not None and get_gazetteer().get(city_id) is None:
        raise LookupError("city")
    if organisation_id is not None and await session.get(Organisation, organisation_id) is None:
        raise LookupError("organisation")
    existing = await session.scalar(select(Follow.id).where(
        Follow.member_id == member.id, Follow.city_id.is_(None) if city_id is None else Follow.city_id == city_id,
        Follow.organisation_id.is_(None) if organisation_id is None else Follow.organisation_id == organisation_id))
    if existing is not None:
        return False
    session.add(Follow(member_id=member.id, city_id=city_id, organisation_id=organisation_id))
    await session.flush()
    return True


async def unfollow(session: AsyncSession, member: Member, *, city_id: int | None = None, organisation_id: int | None = None) -> bool:
    """Stop following; False when not followed."""
    query = delete(Follow).where(Follow.member_id == member.id)
    query = query.where(Follow.city_id == city_id) if city_id is not None else query.where(Follow.organisation_id == organisation_id)
    return bool((await session.execute(query)).rowcount)


async def is_following(session: AsyncSession, member: Member | None, *, city_id: int | None = None,
                       organisation_id: int | None = None) -> bool:
    if member is None:
        return False
    query = select(Follow.id).where(Follow.member_id == member.id)
    query = query.where(Follow.city_id == city_id) if city_id is not None else query.where(Follow.organisation_id == organisation_id)
    return (await session.scalar(query.limit(1))) is not None


def event_city_id(event: Event) -> int | None:
    """The gazetteer city an event is in (the nearest to its venue)."""
    if event.latitude is None or event.longitude is None:
        return None
    city = get_gazetteer().nearest(event.latitude, event.longitude)
    return city.geoname_id if city else None


async def event_audience(session: AsyncSession, event: Event) -> list[Member]:
    """Who hears of a newly approved event: followers of its organisation or city, and members
    within their own radius whose interests include its category (if they want event news)."""
    base = (Member.is_active.is_(True), Member.registered_at.is_not(None))
    city_id = event_city_id(event)
    follow_match = Follow.organisation_id == event.organisation_id
    if city_id is not None:
        follow_match = or_(follow_match, Follow.city_id == city_id)
    followers = (await session.scalars(
        select(Member).join(Follow, Follow.member_id == Member.id).where(*base, follow_match)
    )).unique().all()
    audience: dict[int, Member] = {m.id: m for m in followers}
    if event.latitude is not None and event.longitude is not None and event.category:
        lat, lon = event.latitude, event.longitude
        dlat = AUDIENCE_MAX_RADIUS_KM / 111.0
        dlon = min(180.0, AUDIENCE_MAX_RADIUS_KM / max(1.0, 111.0 * abs(math.cos(math.radians(lat)))))
        near = await session.scalars(
            select(Member).where(
                *base, Member.notify_events.is_(True), Member.latitude.is_not(None),
                Member.latitude.between(lat - dlat, lat + dlat),
                or_(Member.longitude.between(lon - dlon, lon + dlon), dlon >= 180.0),
            )
        )
        for member in near:
            if member.id in audience or event.category not in (member.interests or []):
                continue
            if distance_km(lat, lon, member.latitude, member.longitude) <= member.radius_km:  # type: ignore[arg-type]
                audience[member.id] = member
    audience.pop(event.submitted_by or -1, None)
    return sorted(audience.values(), key=lambda m: m.id)


async def get_organisation(session: AsyncSession, organisation_id: int) -> Organisation | None:
    """Any organisation by id."""
    return await session.get(Organisation, organisation_id)


@dataclass
class EventCard:
    """What an event card shows one member: the event, its host, the answers so far, theirs, and follows."""

    event: Event
    host: Organisation | None
    counts: RsvpCounts
    rsvp: Rsvp | None
    following_org: bool
    following_city: bool


async def event_card(session: AsyncSession, event: Event, member: Member | None) -> EventCard:
    """Everything an event card needs for this member (the view renders it)."""
    host = await session.get(Organisation, event.organisation_id)
    counts = await rsvp_counts(session, event)
    rsvp = await member_rsvp(session, member, event.id)
    city_id = event_city_id(event)
    following_org = await is_following(session, member, organisation_id=event.organisation_id)
    following_city = city_id is not None and await is_following(session, member, city_id=city_id)
    return EventCard(event, host, counts, rsvp, following_org, following_city)
