"""The queue of messages to members outside a reply: event news, cancellations, waitlist promotions,
reminders, digests, freshness asks, notices to the secretariat and to representatives.

A notice is queued in the same transaction as what caused it (an approval, a cancellation, an
RSVP that freed a place, a digest marked as sent, an ask counted), so it is neither lost nor sent
for something that rolled back; the one sender (bot/notify.py) sends it through the rate gate.
Quiet hours defer a notice to their end unless it is urgent. A sender first claims the rows it
will send (`claim`), so two senders (the worker's tick and a handler, or two processes) never
send the same one; a claim left by a crash expires after CLAIM_TTL and the row is sent then.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.events import event_audience
from bot.services.members import mark_blocked
from bot.services.timeutil import quiet_until
from db.models import DeliveryStatus, Event, EventStatus, Member, Notice, NoticeKind

MAX_ATTEMPTS = 5
CLAIM_TTL = timedelta(minutes=10)  # a claim older than this was left by a sender that died
URGENT_WITHIN = timedelta(hours=24)  # a notice about an event this close ignores quiet hours
KEEP_FINISHED = timedelta(days=30)  # a sent, blocked or failed notice is forgotten after this long


def next_try(attempts: int, now: datetime) -> datetime | None:
    """When a message that failed `attempts` times for a passing reason (network, server) goes again:
    after 2, 4, 8, 16 s, … at most 5 minutes; None once MAX_ATTEMPTS are spent (it has failed)."""
    if attempts >= MAX_ATTEMPTS:
        return None
    return now + timedelta(seconds=min(300, 2 ** attempts))


def new_claim() -> str:
    return secrets.token_hex(8)


# --- queueing ------------------------------------------------------------------------------

async def queue(session: AsyncSession, kind: NoticeKind, event: Event, members: Iterable[Member], now: datetime,
                *, urgent: bool = False) -> int:
    """Queue one notice about an event per member (once per kind and event), rendered when sent;
    returns how many were added."""
    existing = set(await session.scalars(
        select(Notice.member_id).where(Notice.kind == kind.value, Notice.event_id == event.id)))
    rows = [
        {"kind": kind.value, "event_id": event.id, "member_id": member.id, "chat_id": member.telegram_id,
         "subject": f"event:{event.id}", "status": DeliveryStatus.PENDING.value,
         "attempts": 0, "not_before": None if urgent else quiet_until(member, now), "created_at": now}
        for member in members if member.id not in existing and member.is_active
    ]
    if rows:
        await session.execute(Notice.__table__.insert(), rows)
    return len(rows)


async def queue_about(session: AsyncSession, kind: NoticeKind, event: Event, members: Iterable[Member], now: datetime) -> int:
    """`queue`, urgent when the event is within a day (quiet hours would make the news late)."""
    return await queue(session, kind, event, members, now, urgent=event.starts_at - now < URGENT_WITHIN)


async def queue_message(session: AsyncSession, kind: NoticeKind, chat_id: int, member: Member | None,
                        payload: dict[str, Any], now: datetime, *, urgent: bool = False, subject: str | None = None,
                        event_id: int | None = None, organisation_id: int | None = None,
                        claim: str | None = None) -> Notice | None:
    """Queue a message already rendered for its recipient (`payload`, see bot/notify.py). `member` is
    None for a chat we know only by its id. None when it is not queued: the member is inactive, or
    a notice of this kind and subject is already queued for the chat. `claim` queues it taken by
    the caller, who sends it at once."""
    if member is not None and member.is_active is False:
        return None
    if subject is not None and await session.scalar(select(Notice.id).where(
            Notice.kind == kind.value, Notice.chat_id == chat_id, Notice.subject == subject)) is not None:
        return None
    notice = Notice(kind=kind.value, chat_id=chat_id, member_id=member.id if member is not None else None,
                    subject=subject, event_id=event_id, organisation_id=organisation_id, payload=payload,
                    status=DeliveryStatus.PENDING.value, attempts=0, created_at=now,
                    not_before=None if urgent or member is None else quiet_until(member, now),
                    claim=claim, claimed_at=now if claim else None)
    session.add(notice)
    await session.flush()
    return notice


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


# --- sending: claim, then record what happened ----------------------------------------------

@dataclass(frozen=True)
class DueNotice:
    notice: Notice
    event: Event | None
    member: Member | None


def _free(now: datetime):  # type: ignore[no-untyped-def]
    return or_(Notice.claim.is_(None), Notice.claimed_at < now - CLAIM_TTL)


async def claim_due(session: AsyncSession, now: datetime, limit: int, claim: str,
                    ids: Sequence[int] | None = None) -> list[DueNotice]:
    """Take up to `limit` pending notices whose time has come (of `ids`, when given), oldest first,
    and return them; the caller commits before sending, so no other sender takes them."""
    due = and_(Notice.status == DeliveryStatus.PENDING.value,
               or_(Notice.not_before.is_(None), Notice.not_before <= now), _free(now))
    chosen = select(Notice.id).where(due)
    if ids is not None:
        chosen = chosen.where(Notice.id.in_(list(ids)))
    # The condition is repeated on the rows themselves: a concurrent sender's claim wins (PostgreSQL
    # re-checks it on rows another transaction just updated).
    await session.execute(
        update(Notice).where(Notice.id.in_(chosen.order_by(Notice.id).limit(limit).scalar_subquery()), due)
        .values(claim=claim, claimed_at=now).execution_options(synchronize_session=False))
    rows = (await session.execute(
        select(Notice, Event, Member).outerjoin(Event, Event.id == Notice.event_id)
        .outerjoin(Member, Member.id == Notice.member_id)
        .where(Notice.claim == claim, Notice.status == DeliveryStatus.PENDING.value).order_by(Notice.id)
        .execution_options(populate_existing=True)
    )).all()
    return [DueNotice(notice, event, member) for notice, event, member in rows]


async def release(session: AsyncSession, claim: str) -> None:
    """Give back the claimed notices not sent (flood control stopped the round): the next round takes them."""
    await session.execute(update(Notice).where(Notice.claim == claim, Notice.status == DeliveryStatus.PENDING.value)
                          .values(claim=None, claimed_at=None).execution_options(synchronize_session="fetch"))


def mark(notice: Notice, status: DeliveryStatus, now: datetime, error: str | None = None) -> None:
    """Record a final outcome; the rendered text is not kept once the notice is done."""
    notice.status = status.value
    notice.attempts += 1
    notice.last_error = error[:300] if error else None
    notice.sent_at = now if status == DeliveryStatus.SENT else None
    notice.claim, notice.claimed_at, notice.payload = None, None, None


def retry_later(notice: Notice, now: datetime, error: str) -> None:
    """A transient failure: back off (next_try), give up after MAX_ATTEMPTS."""
    notice.attempts += 1
    notice.last_error = error[:300]
    notice.claim, notice.claimed_at = None, None
    again = next_try(notice.attempts, now)
    if again is None:
        notice.status, notice.payload = DeliveryStatus.FAILED.value, None
    else:
        notice.not_before = again


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


async def bot_blocked(session: AsyncSession, chat_ids: Iterable[int]) -> int:
    """Telegram answered 403 to these chats: the member blocked the bot. The one path for it, from
    the sender and from a reply (bot/app.py's error handler): the member is marked inactive
    (audited) until they write again, and what was queued for them and not taken by a sender is
    closed as blocked. Returns how many members were marked."""
    chats = sorted(set(chat_ids))
    if not chats:
        return 0
    marked = sum([await mark_blocked(session, chat_id) for chat_id in chats])
    await session.execute(
        update(Notice).where(Notice.chat_id.in_(chats), Notice.status == DeliveryStatus.PENDING.value, Notice.claim.is_(None))
        .values(status=DeliveryStatus.BLOCKED.value, last_error="the bot is blocked", payload=None)
        .execution_options(synchronize_session=False))
    return marked


async def purge_finished(session: AsyncSession, now: datetime, keep: timedelta = KEEP_FINISHED) -> int:
    """Forget notices finished (sent, blocked, failed) more than `keep` ago; returns how many.
    Every subject that keeps a notice from being queued twice (an event, a week, a day) is over by then."""
    result = await session.execute(delete(Notice).where(
        Notice.status != DeliveryStatus.PENDING.value, Notice.created_at < now - keep,
        or_(Notice.sent_at.is_(None), Notice.sent_at < now - keep)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
