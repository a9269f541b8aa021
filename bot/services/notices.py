"""Notices to members about events (new-event news, cancellations, waitlist promotions).

A notice is queued in the same transaction as what caused it (an approval, a cancellation, an
RSVP that freed a place), so it is neither lost nor sent for something that rolled back; the
worker (jobs/event_news.py) sends it later through the rate gate. Quiet hours defer a notice to
their end instead of dropping it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.events import event_audience
from bot.services.timeutil import quiet_until
from db.models import DeliveryStatus, Event, EventStatus, Member, Notice, NoticeKind

MAX_ATTEMPTS = 5


async def queue(session: AsyncSession, kind: NoticeKind, event: Event, members: Iterable[Member], now: datetime,
                *, urgent: bool = False) -> int:
    """Queue one notice per member (once per kind and event); returns how many were added."""
    existing = set(await session.scalars(
        select(Notice.member_id).where(Notice.kind == kind.value, Notice.event_id == event.id)))
    rows = [
        {"kind": kind.value, "event_id": event.id, "member_id": member.id, "status": DeliveryStatus.PENDING.value,
         "attempts": 0, "not_before": None if urgent else quiet_until(member, now), "created_at": now}
        for member in members if member.id not in existing and member.is_active
    ]
    if rows:
        await session.execute(Notice.__table__.insert(), rows)
    return len(rows)


async def queue_event_news(session: AsyncSession, now: datetime) -> int:
    """Queue the news of every approved, upcoming event not announced yet, to its audience."""
    events = (await session.scalars(
        select(Event).where(Event.status == EventStatus.APPROVED.value, Event.news_sent_at.is_(None), Event.starts_at > now)
        .order_by(Event.id)
    )).all()
    queued = 0
    for event in events:
        queued += await queue(session, NoticeKind.EVENT_NEWS, event, await event_audience(session, event), now)
        event.news_sent_at = now
    await session.flush()
    return queued


@dataclass(frozen=True)
class DueNotice:
    notice: Notice
    event: Event
    member: Member


async def due(session: AsyncSession, now: datetime, limit: int) -> list[DueNotice]:
    """Pending notices whose time has come, oldest first."""
    rows = (await session.execute(
        select(Notice, Event, Member).join(Event, Event.id == Notice.event_id).join(Member, Member.id == Notice.member_id)
        .where(Notice.status == DeliveryStatus.PENDING.value,
               (Notice.not_before.is_(None)) | (Notice.not_before <= now))
        .order_by(Notice.id).limit(limit)
    )).all()
    return [DueNotice(notice, event, member) for notice, event, member in rows]


def mark(notice: Notice, status: DeliveryStatus, now: datetime, error: str | None = None) -> None:
    """Record a final outcome."""
    notice.status = status.value
    notice.attempts += 1
    notice.last_error = error[:300] if error else None
    notice.sent_at = now if status == DeliveryStatus.SENT else None


def retry_later(notice: Notice, now: datetime, error: str) -> None:
    """A transient failure: back off, give up after MAX_ATTEMPTS."""
    notice.attempts += 1
    notice.last_error = error[:300]
    if notice.attempts >= MAX_ATTEMPTS:
        notice.status = DeliveryStatus.FAILED.value
    else:
        notice.not_before = now + timedelta(seconds=min(300, 2 ** notice.attempts))


async def counts(session: AsyncSession, event_id: int) -> dict[str, int]:
    """Notices of an event by status."""
    rows = await session.execute(
        select(Notice.status, func.count()).where(Notice.event_id == event_id).group_by(Notice.status))
    return {status: count for status, count in rows.all()}


async def drop_pending(session: AsyncSession, event_id: int, kinds: Sequence[NoticeKind]) -> None:
    """Forget pending notices that no longer apply (news of an event that was cancelled)."""
    await session.execute(
        update(Notice).where(Notice.event_id == event_id, Notice.status == DeliveryStatus.PENDING.value,
                             Notice.kind.in_([k.value for k in kinds]))
        .values(status=DeliveryStatus.FAILED.value, last_error="no longer applies"))
