"""What /events lists: upcoming events near a member, then from what they follow, in a date
window; and the events a member answered ("My events"). No aiogram here."""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import distance_km, get_gazetteer
from bot.services.events import event_city_id, zone_of
from bot.services.paging import Page
from db.models import Event, EventStatus, Follow, Member, Organisation, Rsvp, RsvpStatus

#: How far ahead a member may look: a date filter beyond this is refused.
HORIZON_DAYS = 2 * 365
#: The most events one list considers (a page is a slice of these), so a busy city stays cheap.
LIST_CAP = 300
#: A followed city's events are those whose venue's nearest gazetteer city is it; look this far around it.
FOLLOWED_CITY_KM = 60
PERIODS = ("all", "week", "month", "day")
SOURCE_NEAR, SOURCE_FOLLOWED = "near", "followed"


class DayOutOfRange(ValueError):
    """A date filter before today or more than HORIZON_DAYS ahead."""


@dataclass(frozen=True, slots=True)
class Window:
    """A date filter as UTC bounds: events starting in [start, end)."""

    period: str
    start: datetime
    end: datetime
    day: date | None = None


@dataclass(frozen=True, slots=True)
class ListedEvent:
    event: Event
    host: Organisation | None
    source: str  # near or followed
    distance_km: float | None


EventPage = Page[ListedEvent]


@dataclass(frozen=True, slots=True)
class Answered:
    """One of "My events": the event and the member's answer."""

    event: Event
    status: str  # going or maybe
    waitlisted: bool
    guests: int


def local_today(zone: str | None, now: datetime) -> date:
    return now.astimezone(zone_of(zone)).date()


def latest_day(zone: str | None, now: datetime) -> date:
    """The last day a filter may ask for."""
    return local_today(zone, now) + timedelta(days=HORIZON_DAYS)


def window(period: str, zone: str | None, now: datetime, day: date | None = None) -> Window:
    """The UTC bounds of a filter in the member's time zone: all upcoming, this week (to Sunday
    night), this month, or one day. DayOutOfRange for a day in the past or past the horizon."""
    tz: ZoneInfo = zone_of(zone)
    today = local_today(zone, now)
    horizon = datetime.combine(latest_day(zone, now) + timedelta(days=1), time(), tz)
    if period == "week":
        end = datetime.combine(today + timedelta(days=7 - today.weekday()), time(), tz)
    elif period == "month":
        last = calendar.monthrange(today.year, today.month)[1]
        end = datetime.combine(today.replace(day=last) + timedelta(days=1), time(), tz)
    elif period == "day":
        if day is None or not today <= day <= latest_day(zone, now):
            raise DayOutOfRange(str(day))
        start = max(now, datetime.combine(day, time(), tz))
        return Window("day", start, datetime.combine(day + timedelta(days=1), time(), tz), day)
    elif period == "all":
        end = horizon
    else:
        raise ValueError(f"unknown period {period!r}")
    return Window(period, now, min(end, horizon))


def _box(lat: float, lon: float, km: float):  # type: ignore[no-untyped-def]
    dlat = km / 111.0
    dlon = km / (111.0 * max(0.05, math.cos(math.radians(lat))))
    return and_(Event.latitude.between(lat - dlat, lat + dlat), Event.longitude.between(lon - dlon, lon + dlon))


def _upcoming(win: Window):  # type: ignore[no-untyped-def]
    return (select(Event).where(Event.status == EventStatus.APPROVED.value, Event.starts_at >= win.start,
                                Event.starts_at < win.end).order_by(Event.starts_at, Event.id).limit(LIST_CAP))


async def upcoming_for(session: AsyncSession, member: Member, win: Window, *, offset: int = 0, limit: int = 5) -> EventPage:
    """Events in the window within the member's radius (soonest first), then those of the
    organisations and cities they follow; one page of them."""
    if offset < 0 or not 1 <= limit <= 50:
        raise ValueError("bad page")
    near: list[tuple[Event, float]] = []
    if member.latitude is not None and member.longitude is not None:
        radius = float(member.radius_km or 25)
        rows = await session.scalars(_upcoming(win).where(_box(member.latitude, member.longitude, radius)))
        for event in rows:
            km = distance_km(member.latitude, member.longitude, event.latitude, event.longitude)  # type: ignore[arg-type]
            if km <= radius:
                near.append((event, km))
    seen = {event.id for event, _ in near}
    follows = list(await session.scalars(select(Follow).where(Follow.member_id == member.id)))
    org_ids = [f.organisation_id for f in follows if f.organisation_id is not None]
    city_ids = {f.city_id for f in follows if f.city_id is not None}
    followed: list[Event] = []
    conditions = [Event.organisation_id.in_(org_ids)] if org_ids else []
    gazetteer = get_gazetteer()
    for city_id in city_ids:
        city = gazetteer.get(city_id)
        if city is not None:
            conditions.append(_box(city.latitude, city.longitude, FOLLOWED_CITY_KM))
    if conditions:
        for event in await session.scalars(_upcoming(win).where(or_(*conditions))):
            if event.id in seen:
                continue
            if event.organisation_id in org_ids or event_city_id(event) in city_ids:
                followed.append(event)
                seen.add(event.id)
    listed = [(event, SOURCE_NEAR, km) for event, km in near] + [(event, SOURCE_FOLLOWED, None) for event in followed]
    page = listed[offset:offset + limit]
    hosts = {event.organisation_id for event, _, _ in page}
    by_id = {org.id: org for org in await session.scalars(select(Organisation).where(Organisation.id.in_(hosts)))} if hosts else {}
    items = [ListedEvent(event, by_id.get(event.organisation_id), source, km) for event, source, km in page]
    return Page(items, len(listed), offset, limit)


async def answered_by(session: AsyncSession, member: Member, now: datetime, *, offset: int = 0, limit: int = 5) -> tuple[list[Answered], int]:
    """Upcoming events the member said Going or Maybe to (waitlisted included), soonest first."""
    if offset < 0 or not 1 <= limit <= 50:
        raise ValueError("bad page")
    statement = (
        select(Event, Rsvp)
        .join(Rsvp, Rsvp.event_id == Event.id)
        .where(Rsvp.member_id == member.id, Rsvp.status.in_((RsvpStatus.GOING.value, RsvpStatus.MAYBE.value)),
               Event.status.in_((EventStatus.APPROVED.value, EventStatus.CANCELLED.value)),
               Event.starts_at >= now - timedelta(hours=3))
        .order_by(Event.starts_at, Event.id)
        .limit(LIST_CAP)
    )
    rows = list((await session.execute(statement)).all())
    page = [Answered(event, rsvp.status, rsvp.waitlisted, rsvp.guests or 0) for event, rsvp in rows[offset:offset + limit]]
    return page, len(rows)
