"""Recurring events: a rule (weekly on chosen weekdays, monthly on a day or on "the second Saturday")
with an end date or a count, expanded in the venue's time zone so a weekly 18:30 stays 18:30 on
the wall clock across daylight-saving changes. Each occurrence is its own event (RSVP, capacity,
waitlist, reminders); the series is moderated once, and its calendar entry carries the RRULE.

Short months: a monthly rule on the 29th, 30th or 31st skips the months without that day (RFC 5545's
own rule for BYMONTHDAY); the representative is told so before anything is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from dateutil.rrule import FR, MO, SA, SU, TH, TU, WE, rrule, rrulestr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.events import InvalidEventField, check_start, event_from_draft, submitting_organisation, to_utc, zone_of
from db.models import Event, EventSeries, EventStatus, Member, Organisation, SeriesOccurrence
from db.repositories import Repo

MAX_OCCURRENCES = 104  # two years of a weekly class
WEEKDAYS = (MO, TU, WE, TH, FR, SA, SU)
_COPIED = ("organisation_id", "title", "description", "timezone", "venue", "city", "country_code", "latitude", "longitude",
           "languages", "category", "capacity", "link")


@dataclass(frozen=True)
class Rule:
    """weekly: `weekdays` (0 = Monday); monthly: `month_day` (1-31) or `nth` (1-4, -1 = last) of `weekday`."""

    kind: str
    weekdays: tuple[int, ...] = ()
    month_day: int | None = None
    nth: int | None = None
    weekday: int | None = None
    until: date | None = None  # the last day (venue-local) an occurrence may fall on
    count: int | None = None


@dataclass
class Expansion:
    starts: list[datetime]  # venue-local wall-clock times
    notes: list[str] = field(default_factory=list)  # "short_months", "skipped_gap"


def rrule_text(rule: Rule) -> str:
    """The RFC 5545 RRULE value of a rule (UNTIL as the end of its day, floating like DTSTART)."""
    if rule.kind == "weekly":
        if not rule.weekdays or any(not 0 <= d <= 6 for d in rule.weekdays):
            raise InvalidEventField("series_weekdays")
        parts = ["FREQ=WEEKLY", "BYDAY=" + ",".join(str(WEEKDAYS[d]) for d in sorted(set(rule.weekdays)))]
    elif rule.kind == "monthly":
        if rule.month_day is not None:
            if not 1 <= rule.month_day <= 31:
                raise InvalidEventField("series_month_day")
            parts = ["FREQ=MONTHLY", f"BYMONTHDAY={rule.month_day}"]
        elif rule.nth in (1, 2, 3, 4, -1) and rule.weekday is not None and 0 <= rule.weekday <= 6:
            parts = ["FREQ=MONTHLY", f"BYDAY={rule.nth}{WEEKDAYS[rule.weekday]}"]
        else:
            raise InvalidEventField("series_month_day")
    else:
        raise InvalidEventField("series_kind")
    if (rule.until is None) == (rule.count is None):
        raise InvalidEventField("series_end")
    if rule.count is not None:
        if not 1 <= rule.count <= MAX_OCCURRENCES:
            raise InvalidEventField("series_too_many")
        parts.append(f"COUNT={rule.count}")
    else:
        parts.append(f"UNTIL={rule.until:%Y%m%d}T235959")
    return ";".join(parts)


def expand(rule_text: str, first_local: datetime, zone: str) -> Expansion:
    """The occurrences' wall-clock starts; refuses an end before the start and more than the maximum."""
    result = Expansion([])
    if "BYMONTHDAY=29" in rule_text or "BYMONTHDAY=3" in rule_text:
        result.notes.append("short_months")
    if "UNTIL=" in rule_text:
        until = datetime.strptime(rule_text.split("UNTIL=")[1][:15], "%Y%m%dT%H%M%S")
        if until < first_local:
            raise InvalidEventField("end_before_start")
    rule: rrule = rrulestr(rule_text, dtstart=first_local)  # type: ignore[assignment]
    for index, start in enumerate(rule):
        if index >= MAX_OCCURRENCES:
            raise InvalidEventField("series_too_many")
        try:
            to_utc(start, zone)
        except InvalidEventField:  # the clocks skip this time on that day: that occurrence is left out
            result.notes.append("skipped_gap")
            continue
        result.starts.append(start)
    if not result.starts:
        raise InvalidEventField("series_empty")
    return result


async def create_series(session: AsyncSession, member: Member | None, draft: dict, rule: Rule, now: datetime) -> tuple[EventSeries, list[Event]]:  # type: ignore[type-arg]
    """Create a series and one event per occurrence (pending, or approved for a trusted organisation)."""
    organisation = await submitting_organisation(session, member, draft)
    assert member is not None
    organisation_id = organisation.id
    template = event_from_draft(draft, now)  # validates every field once
    zone = template.timezone
    first_local = datetime.fromisoformat(draft["start_local"])
    duration = (datetime.fromisoformat(draft["end_local"]) - first_local) if draft.get("end_local") else None
    text = rrule_text(rule)
    expansion = expand(text, first_local, zone)
    status = EventStatus.APPROVED.value if organisation.trusted else EventStatus.PENDING.value
    series = EventSeries(organisation_id=organisation_id, rrule=text, timezone=zone, created_by=member.id,
                         first_start_local=first_local.isoformat(timespec="minutes"))
    session.add(series)
    await session.flush()
    check_start(to_utc(expansion.starts[0], zone), now)
    events = []
    for start in expansion.starts:
        event = Event(**{column: getattr(template, column) for column in _COPIED})
        event.starts_at = to_utc(start, zone)
        event.ends_at = to_utc(start + duration, zone) if duration else None
        event.submitted_by, event.status, event.created_at = member.id, status, now
        session.add(event)
        events.append(event)
    await session.flush()
    for event, start in zip(events, expansion.starts):
        session.add(SeriesOccurrence(event_id=event.id, series_id=series.id, original_start=to_utc(start, zone)))
    await session.flush()
    await Repo(session).audit.record("series.submitted", actor_id=member.id, series_id=series.id,
                                     organisation_id=organisation_id, occurrences=len(events), rrule=text)
    return series, events


async def series_of(session: AsyncSession, event_id: int) -> EventSeries | None:
    """The series an event belongs to, if any."""
    return await session.scalar(select(EventSeries).join(SeriesOccurrence, SeriesOccurrence.series_id == EventSeries.id)
                                .where(SeriesOccurrence.event_id == event_id))


async def siblings(session: AsyncSession, series_id: int) -> list[Event]:
    """Every occurrence of a series, in order."""
    return list(await session.scalars(select(Event).join(SeriesOccurrence, SeriesOccurrence.event_id == Event.id)
                                      .where(SeriesOccurrence.series_id == series_id).order_by(Event.starts_at)))


async def occurrence_rows(session: AsyncSession, event_ids: list[int]) -> dict[int, tuple[SeriesOccurrence, EventSeries]]:
    """Series facts of these events (for calendars)."""
    if not event_ids:
        return {}
    rows = (await session.execute(select(SeriesOccurrence, EventSeries).join(EventSeries, EventSeries.id == SeriesOccurrence.series_id)
                                  .where(SeriesOccurrence.event_id.in_(event_ids)))).all()
    return {occurrence.event_id: (occurrence, series) for occurrence, series in rows}


async def extend_into_series(session: AsyncSession, member: Member | None, event_id: int, rule: Rule,
                             now: datetime) -> tuple[EventSeries, list[Event]]:
    """Make an existing event the first occurrence of a series; the whole series (re)enters moderation
    unless the organisation is trusted."""
    from bot.services.events import _event_to_manage, draft_from_event

    event = await _event_to_manage(session, member, event_id)
    assert member is not None
    if await series_of(session, event.id) is not None:
        raise InvalidEventField("series_already")
    draft = draft_from_event(event)
    organisation = await session.get(Organisation, event.organisation_id)
    text = rrule_text(rule)
    first_local = datetime.fromisoformat(draft["start_local"])
    expansion = expand(text, first_local, event.timezone)
    if expansion.starts[0] != first_local:
        raise InvalidEventField("series_first_day")  # the rule must include the event's own day
    duration = (event.ends_at - event.starts_at) if event.ends_at else None
    status = EventStatus.APPROVED.value if organisation is not None and organisation.trusted else EventStatus.PENDING.value
    series = EventSeries(organisation_id=event.organisation_id, rrule=text, timezone=event.timezone, created_by=member.id,
                         first_start_local=first_local.isoformat(timespec="minutes"))
    session.add(series)
    event.status, event.updated_at = status, now
    events = [event]
    for start in expansion.starts[1:]:
        other = Event(**{column: getattr(event, column) for column in _COPIED})
        other.starts_at = to_utc(start, event.timezone)
        other.ends_at = other.starts_at + duration if duration else None
        other.submitted_by, other.status, other.created_at = member.id, status, now
        session.add(other)
        events.append(other)
    await session.flush()
    for occurrence, start in zip(events, expansion.starts):
        session.add(SeriesOccurrence(event_id=occurrence.id, series_id=series.id, original_start=to_utc(start, event.timezone)))
    await session.flush()
    await Repo(session).audit.record("series.submitted", actor_id=member.id, series_id=series.id,
                                     organisation_id=event.organisation_id, occurrences=len(events), rrule=text)
    return series, events


_SUBSTANCE = ("title", "description", "venue", "city", "country_code", "latitude", "longitude", "languages", "category", "link")


async def apply_to_series(session: AsyncSession, member: Member | None, event_id: int, now: datetime) -> list[Event]:
    """Edit the whole series: this occurrence's details, time of day and length go to every later one
    (each keeps its date); changed occurrences go back to moderation unless the organisation is trusted."""
    from bot.services.events import _event_to_manage

    source = await _event_to_manage(session, member, event_id)
    series = await series_of(session, source.id)
    if series is None:
        raise InvalidEventField("series_none")
    organisation = await session.get(Organisation, source.organisation_id)
    zone = zone_of(source.timezone)
    start_local = source.starts_at.astimezone(zone)
    duration = (source.ends_at - source.starts_at) if source.ends_at else None
    changed = []
    for other in await siblings(session, series.id):
        if other.id == source.id or other.starts_at <= source.starts_at or other.status == EventStatus.CANCELLED.value:
            continue
        day = other.starts_at.astimezone(zone).date()
        wall = datetime.combine(day, start_local.time().replace(tzinfo=None))
        try:
            starts_at = to_utc(wall, source.timezone)
        except InvalidEventField:
            continue  # the clocks skip that time on that day: this one keeps its time
        new = {column: getattr(source, column) for column in _SUBSTANCE}
        new.update(capacity=source.capacity, starts_at=starts_at, ends_at=starts_at + duration if duration else None,
                   timezone=source.timezone)
        if all(getattr(other, key) == value for key, value in new.items()):
            continue
        for key, value in new.items():
            setattr(other, key, value)
        other.status = EventStatus.APPROVED.value if organisation is not None and organisation.trusted else EventStatus.PENDING.value
        other.updated_at = now
        changed.append(other)
    await session.flush()
    await Repo(session).audit.record("series.edited", actor_id=member.id if member else None, series_id=series.id,
                                     source_event_id=source.id, changed=len(changed))
    return changed
