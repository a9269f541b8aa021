"""Moderation: the secretariat's queue of pending events, and its decisions (approve, reject with a
reason), audited with who and when. A series is moderated once: of its pending occurrences only
the earliest is listed, and the decision on it applies to the other pending ones.

Events (bot/services/events.py) and series (bot/services/series.py) both sit above this module:
it reads the series' rows itself, so neither needs the other to decide.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.errors import EventNotFound, NotAllowed, WrongStatus
from bot.services.roles import is_secretariat
from bot.services.validate import CONTROL, bounded
from db.models import Event, EventStatus, Member, SeriesOccurrence
from db.repositories import Repo

REASON_MAX = 500


def clean_reason(raw: str | None) -> str:
    """A rejection reason, 1–500 characters."""
    return bounded(CONTROL.sub("", (raw or "").strip()), REASON_MAX, "reason")


def not_a_later_pending_occurrence():  # type: ignore[no-untyped-def]
    """A filter for the moderation queue: of a series' pending occurrences only the earliest is listed
    (deciding it decides the others)."""
    mine, theirs, earlier = aliased(SeriesOccurrence), aliased(SeriesOccurrence), aliased(Event)
    return ~exists().where(and_(
        mine.event_id == Event.id, theirs.series_id == mine.series_id, earlier.id == theirs.event_id,
        earlier.status == EventStatus.PENDING.value, earlier.starts_at < Event.starts_at))


async def pending_events(session: AsyncSession, limit: int = 10, offset: int = 0) -> tuple[list[Event], int]:
    """The moderation queue, oldest first, and its length."""
    where = (Event.status == EventStatus.PENDING.value) & not_a_later_pending_occurrence()
    total = await session.scalar(select(func.count()).select_from(Event).where(where)) or 0
    rows = await session.scalars(select(Event).where(where).order_by(Event.created_at, Event.id).offset(offset).limit(limit))
    return list(rows), total


async def decide_siblings(session: AsyncSession, event: Event, now: datetime) -> int:
    """Moderation once per series: the decision on one pending occurrence applies to the other pending ones."""
    series_id = select(SeriesOccurrence.series_id).where(SeriesOccurrence.event_id == event.id).scalar_subquery()
    others = await session.scalars(
        select(Event).join(SeriesOccurrence, SeriesOccurrence.event_id == Event.id)
        .where(SeriesOccurrence.series_id == series_id, Event.id != event.id, Event.status == EventStatus.PENDING.value))
    changed = 0
    for other in others:
        other.status, other.reject_reason, other.updated_at = event.status, event.reject_reason, now
        changed += 1
    await session.flush()
    return changed


async def _decide(session: AsyncSession, actor: Member | None, event_id: int, secretariat_ids: frozenset[int]) -> Event:
    if not await is_secretariat(session, actor, secretariat_ids):
        raise NotAllowed()
    event = await session.get(Event, event_id, with_for_update=True)
    if event is None:
        raise EventNotFound()
    if event.status != EventStatus.PENDING.value:
        raise WrongStatus(event.status)
    return event


async def approve_event(session: AsyncSession, actor: Member | None, event_id: int, secretariat_ids: frozenset[int],
                        now: datetime) -> Event:
    """The secretariat approves a pending event (and the rest of its series); audited with who and when."""
    event = await _decide(session, actor, event_id, secretariat_ids)
    event.status, event.reject_reason, event.updated_at = EventStatus.APPROVED.value, None, now
    await session.flush()
    await Repo(session).audit.record("event.approved", actor_id=actor.id if actor else None, event_id=event.id, at=now.isoformat())
    await decide_siblings(session, event, now)
    return event


async def reject_event(session: AsyncSession, actor: Member | None, event_id: int, reason: str,
                       secretariat_ids: frozenset[int], now: datetime) -> Event:
    """The secretariat rejects a pending event (and the rest of its series) with a reason; audited with who, when and why."""
    reason = clean_reason(reason)
    event = await _decide(session, actor, event_id, secretariat_ids)
    event.status, event.reject_reason, event.updated_at = EventStatus.REJECTED.value, reason, now
    await session.flush()
    await Repo(session).audit.record("event.rejected", actor_id=actor.id if actor else None, event_id=event.id,
                                     reason=reason, at=now.isoformat())
    await decide_siblings(session, event, now)
    return event
