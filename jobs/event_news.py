"""Notices about events, every few seconds: the news of newly approved events to their audience,
cancellations to those who answered, promotions from the waitlist.

The table is the queue (bot/services/notices.py): each tick first queues the news of approved
events not announced yet, then sends what is due through the process's rate gate, one notice per
transaction, so a crash repeats at most the one in flight. A member in quiet hours gets the
notice when they end; flood control pauses the gate for the whole bot and the rest waits for the
next tick; a blocked bot marks the member inactive.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import create_i18n
from bot.notify import deliver, render_for
from bot.services import notices
from bot.services.members import mark_blocked
from bot.views.events import cancelled_text, new_event_text, promoted_text, rsvp_keyboard
from db.models import DeliveryStatus, EventStatus, NoticeKind, Organisation
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.delivery import gate_for

log = logging.getLogger(__name__)
BATCH = 200
_running: asyncio.Task[int] | None = None


async def tick_job() -> None:
    """Scheduled entry point."""
    await tick(get_context())


def start(context: JobContext) -> asyncio.Task[int] | None:
    """Run a tick in the background unless one is running (the announcements tick and the nudge call this)."""
    global _running
    if _running is not None and not _running.done():
        return None
    _running = asyncio.create_task(tick(context), name="event-notices")
    _running.add_done_callback(_log_failure)
    return _running


def _log_failure(task: asyncio.Task[int]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("event notices failed; the next tick resumes", exc_info=task.exception())


async def stop() -> None:
    if _running is not None and not _running.done():
        _running.cancel()
        await asyncio.gather(_running, return_exceptions=True)


async def tick(context: JobContext, now: datetime | None = None) -> int:
    """Queue new events' news, then send every due notice; returns how many were delivered."""
    if context.bot is None:
        return 0
    clock = (lambda: now) if now is not None else utcnow
    async with context.session_factory() as session:
        queued = await notices.queue_event_news(session, clock())
        await session.commit()
    if queued:
        log.info("event news: %d notices queued", queued)
    i18n = context.i18n or create_i18n(context.settings.default_locale)
    gate = gate_for(context.bot, context.settings.broadcast_rate)
    sent = 0
    async with context.session_factory() as session:
        while batch := await notices.due(session, clock(), BATCH):
            for item in batch:
                outcome = await _send(context, session, i18n, gate, item, clock())
                await session.commit()
                if outcome == "paused":
                    return sent  # flood control: the whole bot waits; the next tick goes on
                sent += outcome == "sent"
    if sent:
        log.info("event notices: %d sent", sent)
    return sent


async def _send(context: JobContext, session: AsyncSession, i18n: object, gate: object, item: notices.DueNotice,
                now: datetime) -> str:
    notice, event, member = item.notice, item.event, item.member
    kind = NoticeKind(notice.kind)
    if not member.is_active or (kind == NoticeKind.EVENT_NEWS and event.status != EventStatus.APPROVED.value):
        notices.mark(notice, DeliveryStatus.FAILED, now, "no longer applies")
        return "failed"
    if kind == NoticeKind.EVENT_NEWS:
        host = await session.get(Organisation, event.organisation_id)

        def render(locale: str, zone: str | None):  # type: ignore[no-untyped-def]
            return new_event_text(event, host, locale, zone), rsvp_keyboard(event, None)
    elif kind == NoticeKind.EVENT_CANCELLED:
        def render(locale: str, zone: str | None):  # type: ignore[no-untyped-def]
            return cancelled_text(event, locale, zone), None
    else:
        def render(locale: str, zone: str | None):  # type: ignore[no-untyped-def]
            return promoted_text(event, locale, zone), None
    text, markup = render_for(i18n, member, render)  # type: ignore[arg-type]
    outcome = await deliver(context.bot, member.telegram_id, text, markup, gate=gate)  # type: ignore[arg-type]
    if outcome.status == "sent":
        notices.mark(notice, DeliveryStatus.SENT, now)
    elif outcome.status == "blocked":
        notices.mark(notice, DeliveryStatus.BLOCKED, now, outcome.error)
        await mark_blocked(session, member.telegram_id)
    elif outcome.status == "failed":
        notices.mark(notice, DeliveryStatus.FAILED, now, outcome.error)
    elif outcome.status == "retry":
        notices.retry_later(notice, now, outcome.error or "")
    return outcome.status
