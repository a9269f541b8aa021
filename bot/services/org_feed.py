"""An organisation's public, subscribable calendar (RFC 5545): its listed events, a series as one
VEVENT with its RRULE and EXDATEs for cancelled occurrences, occurrences edited on their own as
overrides (RECURRENCE-ID)."""

from __future__ import annotations

from datetime import datetime

import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.calendar import FEED_PAST, UID_DOMAIN, _calendar, _vevent
from bot.services.events import zone_of
from bot.services.series import occurrence_rows
from db.models import Event, EventStatus, Organisation

FEED_PATH = "/ical/org/{id}.ics"


def feed_url(base: str | None, organisation_id: int) -> str | None:
    """The public address of an organisation's feed, when the server has one."""
    return f"{base}{FEED_PATH.format(id=organisation_id)}" if base else None


def _same_as_rule(event: Event, first: Event) -> bool:
    return (event.title, event.description, event.venue, event.city, event.link) == (
        first.title, first.description, first.venue, first.city, first.link)


async def organisation_feed(session: AsyncSession, organisation_id: int, now: datetime) -> bytes | None:
    """The feed of an active organisation, from a month ago on; None when there is no such organisation."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not organisation.is_active:
        return None
    events = list(await session.scalars(
        select(Event).where(Event.organisation_id == organisation_id, Event.starts_at >= now - FEED_PAST,
                            Event.status.in_((EventStatus.APPROVED.value, EventStatus.CANCELLED.value)))
        .order_by(Event.starts_at, Event.id)))
    series_facts = await occurrence_rows(session, [event.id for event in events])
    calendar = _calendar(organisation.name)
    by_series: dict[int, list[Event]] = {}
    for event in events:
        facts = series_facts.get(event.id)
        if facts is None:
            calendar.add_component(_vevent(event, organisation, now))
        else:
            by_series.setdefault(facts[1].id, []).append(event)
    for series_id, members in by_series.items():
        first = members[0]
        series = series_facts[first.id][1]
        master = _vevent(first, organisation, now)
        master.pop("uid")
        master.add("uid", f"series-{series_id}@{UID_DOMAIN}")
        master.pop("status")
        master.add("status", "CONFIRMED")
        master.add("rrule", icalendar.vRecur.from_ical(series.rrule))
        zone = zone_of(series.timezone)
        cancelled = [series_facts[e.id][0].original_start.astimezone(zone) for e in members if e.status == EventStatus.CANCELLED.value]
        if cancelled:
            master.add("exdate", cancelled)
        calendar.add_component(master)
        for event in members[1:]:
            occurrence = series_facts[event.id][0]
            moved = event.starts_at != occurrence.original_start
            if event.status == EventStatus.CANCELLED.value or (not moved and _same_as_rule(event, first)):
                continue
            override = _vevent(event, organisation, now)
            override.pop("uid")
            override.add("uid", f"series-{series_id}@{UID_DOMAIN}")
            override.add("recurrence-id", occurrence.original_start.astimezone(zone))
            calendar.add_component(override)
    calendar.add_missing_timezones()
    return calendar.to_ical()
