"""The notices tick, every few seconds: the news of newly approved events to their audience, then
every due notice of the queue (cancellations, promotions, and what other rounds left over).

The table is the queue (bot/services/notices.py): each tick first queues the news of approved
events not announced yet, then runs a round of the one sender (jobs/notices.py, bot/notify.py)
through the process's rate gate, one notice per transaction, so a crash repeats at most the one
in flight. A member in quiet hours gets the notice when they end; flood control pauses the gate
for the whole bot and the rest waits for the next tick; a blocked bot marks the member inactive.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from bot.services import notices
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.notices import send_round

log = logging.getLogger(__name__)
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
    """Queue new events' news, then send every due notice (jobs/notices.py); returns how many were delivered."""
    if context.bot is None:
        return 0
    clock = (lambda: now) if now is not None else utcnow
    async with context.session_factory() as session:
        queued = await notices.queue_event_news(session, clock())
        await session.commit()
    if queued:
        log.info("event news: %d notices queued", queued)
    done = await send_round(context, now)
    if done.total:
        log.info("notices: %s sent%s", dict(done.sent), " (flood control: the rest waits)" if done.paused else "")
    return done.total
