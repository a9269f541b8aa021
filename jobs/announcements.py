"""Starting and resuming broadcasts from the announcements table.

The table, not the scheduler, holds each announcement's time: any process (a webhook
handler, the CLI) can schedule one by writing a row, and the one worker picks it up on its
next tick — after a restart too, so a time that passed while nobody ran is sent at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.announcements import next_occurrence
from db.models import Announcement, AnnouncementStatus, Delivery, DeliveryStatus
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.delivery import DeliveryEngine

log = logging.getLogger(__name__)
_running: dict[int, asyncio.Task[None]] = {}


async def _spawn_recurring(session: AsyncSession, parent: Announcement, now: datetime) -> None:
    """A recurring announcement sends a fresh copy each time and moves on to its next time."""
    session.add(Announcement(
        created_by=parent.created_by, texts=parent.texts, audience=parent.audience, urgent=parent.urgent,
        status=AnnouncementStatus.SCHEDULED.value, send_at=now, photo_file_id=parent.photo_file_id,
        link_url=parent.link_url, link_text=parent.link_text,
    ))
    parent.send_at = next_occurrence(parent.recurrence or "", now)


async def due_announcements(session: AsyncSession, now: datetime) -> list[int]:
    """Ids to run now: scheduled ones whose time came, and sending ones with due deliveries."""
    recurring = (await session.scalars(
        select(Announcement).where(
            Announcement.status == AnnouncementStatus.SCHEDULED.value, Announcement.recurrence.is_not(None),
            Announcement.send_at <= now,
        )
    )).all()
    for parent in recurring:
        await _spawn_recurring(session, parent, now)
    await session.flush()
    due_delivery = exists().where(
        Delivery.announcement_id == Announcement.id, Delivery.status == DeliveryStatus.PENDING.value,
        or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
    )
    any_pending = exists().where(Delivery.announcement_id == Announcement.id, Delivery.status == DeliveryStatus.PENDING.value)
    ids = await session.scalars(
        select(Announcement.id).where(or_(
            and_(Announcement.status == AnnouncementStatus.SCHEDULED.value, Announcement.recurrence.is_(None),
                 Announcement.send_at <= now),
            and_(Announcement.status == AnnouncementStatus.SENDING.value, or_(due_delivery, ~any_pending)),
        )).order_by(Announcement.id)
    )
    return list(ids)


async def tick(context: JobContext, now: datetime | None = None) -> list[asyncio.Task[None]]:
    """Start an engine for every announcement that is due and not already running here."""
    if context.bot is None:
        return []
    clock = (lambda: now) if now is not None else utcnow
    async with context.session_factory() as session:
        ids = await due_announcements(session, clock())
        await session.commit()
    started = []
    for announcement_id in ids:
        task = _running.get(announcement_id)
        if task is not None and not task.done():
            continue
        engine = DeliveryEngine(context.bot, context.session_factory, context.settings.broadcast_rate,
                                paid=context.settings.broadcast_paid, i18n=context.i18n, clock=clock)
        task = asyncio.create_task(engine.run(announcement_id), name=f"announcement-{announcement_id}")
        task.add_done_callback(_log_failure)
        _running[announcement_id] = task
        started.append(task)
    return started


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("%s failed; the next tick resumes it", task.get_name(), exc_info=task.exception())


async def tick_job() -> None:
    """Scheduled entry point: every few seconds; it also starts the event notices (jobs/event_news.py)."""
    from jobs import event_news

    context = get_context()
    await tick(context)
    event_news.start(context)


async def stop_all() -> None:
    """Let running broadcasts stop; what they did not persist is resent after restart."""
    tasks = [task for task in _running.values() if not task.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    _running.clear()
    from jobs import event_news

    await event_news.stop()
