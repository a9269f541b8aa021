"""The delivery engine: every chosen member gets an announcement once, at the allowed rate.

An announcement is snapshotted into `deliveries` (one row per recipient). A feeder reads
due rows, workers send them through one rate gate, a persister writes results in small
transactions. A window bounds rows taken but not yet persisted: after a crash the engine
resumes from the table, and at most that window is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import resolve_locale
from bot.rate_gate import RateGate, gate_for, window_for, workers_for  # noqa: F401  (RateGate: old home)
from bot.services.announcements import audience_members, counts, quiet_until, text_for
from bot.services.notices import MAX_ATTEMPTS, next_try  # noqa: F401  (MAX_ATTEMPTS: old home)
from db.models import Announcement, AnnouncementStatus, Delivery, DeliveryStatus, Member
from db.repositories import Repo
from db.types import utcnow

log = logging.getLogger(__name__)
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message
IN_RUN_WAIT = 3.0  # a retry due sooner than this is waited for; later ones wait for the next tick


@dataclass
class Row:
    delivery_id: int
    member_id: int
    chat_id: int
    locale: str | None
    attempts: int


@dataclass
class Outcome:
    row: Row
    status: str  # sent, blocked, failed, retry
    error: str | None = None
    message_id: int | None = None
    retry_at: datetime | None = None


@dataclass
class Stats:
    sent: int = 0
    blocked: int = 0
    failed: int = 0
    retried: int = 0
    http_429: int = 0
    started: float = field(default_factory=time.monotonic)


_deliveries = Delivery.__table__
# Results are written with plain executemany statements: one round trip per kind of outcome,
# no ORM bookkeeping per row (the ORM's bulk path costs more Python per row than the send).
_FINISHED = (
    update(_deliveries).where(_deliveries.c.id == bindparam("b_id"))
    .values(status=bindparam("b_status"), attempts=bindparam("b_attempts"), last_error=bindparam("b_error"),
            message_id=bindparam("b_message_id"), sent_at=bindparam("b_sent_at"))
)
_RETRY = (
    update(_deliveries).where(_deliveries.c.id == bindparam("b_id"))
    .values(attempts=bindparam("b_attempts"), last_error=bindparam("b_error"), not_before=bindparam("b_not_before"))
)
FLUSH_EVERY = (0.05, 0.5)  # seconds between writes of finished sends: a quarter of the window's time, within these
FETCH_MIN = 1000  # rows read per query, at least: the query sorts the pending rows, so few large reads


class DeliveryEngine:
    """Sends one announcement's due deliveries; `run` returns when none is due now."""

    def __init__(self, bot: Bot, session_factory: async_sessionmaker[AsyncSession], rate: float, *,
                 paid: bool = False, i18n: Any = None, clock: Any = utcnow) -> None:
        self.bot = bot
        self.sessions = session_factory
        self.rate = rate
        self.paid = paid
        self.i18n = i18n
        self.clock = clock
        self.gate = gate_for(bot, rate)
        self.window = window_for(rate)
        self.workers = workers_for(rate)
        # Each write is a commit (an fsync): batch more at low rates, where the window lasts longer.
        self.flush_every = min(FLUSH_EVERY[1], max(FLUSH_EVERY[0], self.window / rate / 4))
        self.stats = Stats()
        self._outstanding = 0  # rows queued or sent whose outcome is not persisted yet

    def _locale(self, stored: str | None) -> str:
        """A member's language, else the bot's default (bot/i18n.resolve_locale)."""
        return resolve_locale(stored, None, self.i18n.default_locale if self.i18n else "en")  # no catalogue: English texts

    # --- preparation ----------------------------------------------------------------------

    async def snapshot(self, session: AsyncSession, announcement: Announcement) -> int:
        """Create the delivery rows (once): the audience as it is at send time."""
        now = self.clock()
        members = await audience_members(session, announcement.audience)
        existing = set(await session.scalars(select(Delivery.member_id).where(Delivery.announcement_id == announcement.id)))
        rows = [
            {
                "announcement_id": announcement.id,
                "member_id": member.id,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "not_before": None if announcement.urgent else quiet_until(member, now),
            }
            for member in members
            if member.id not in existing
        ]
        if rows:
            await session.execute(Delivery.__table__.insert(), rows)
        return len(rows)

    # --- the run --------------------------------------------------------------------------

    async def run(self, announcement_id: int) -> None:
        """Send every due delivery of the announcement, then report."""
        async with self.sessions() as session:
            announcement = await session.get(Announcement, announcement_id)
            if announcement is None or announcement.status not in (AnnouncementStatus.SCHEDULED.value, AnnouncementStatus.SENDING.value):
                return
            if announcement.status == AnnouncementStatus.SCHEDULED.value:
                await self.snapshot(session, announcement)
                announcement.status = AnnouncementStatus.SENDING.value
                announcement.started_at = self.clock()
                await session.commit()
            texts = dict(announcement.texts)
            options = (announcement.photo_file_id, announcement.link_url, announcement.link_text)
        log.info("announcement %s: sending (rate %s/s, window %s, workers %s)", announcement_id, self.rate, self.window, self.workers)
        queue: asyncio.Queue[Row | None] = asyncio.Queue()
        slots = asyncio.Semaphore(self.window)
        outcomes: list[Outcome] = []
        senders = [asyncio.create_task(self._sender(queue, outcomes, texts, options)) for _ in range(self.workers)]
        persister = asyncio.create_task(self._persister(announcement_id, outcomes, slots))
        progress = asyncio.create_task(self._progress(announcement_id))
        try:
            await self._feed(announcement_id, queue, slots)
            for _ in senders:
                await queue.put(None)
            await asyncio.gather(*senders)
        finally:
            persister.cancel()
            progress.cancel()
            await asyncio.gather(persister, progress, return_exceptions=True)
            await self._flush(announcement_id, outcomes, slots)
        await self._finish(announcement_id)

    async def _feed(self, announcement_id: int, queue: asyncio.Queue[Row | None], slots: asyncio.Semaphore) -> None:
        """Queue due rows in id order; another pass picks up retries; stop when nothing is due soon."""
        while True:
            cursor, fed = 0, 0
            while rows := await self._due(announcement_id, cursor):
                for row in rows:
                    await slots.acquire()  # bounds the rows taken but not yet persisted
                    self._outstanding += 1
                    await queue.put(row)
                    fed += 1
                cursor = rows[-1].delivery_id
            while self._outstanding:  # this pass sent and persisted before the next looks for retries
                await asyncio.sleep(0.02)
            if fed:
                continue
            wait = await self._seconds_to_next_retry(announcement_id)
            if wait is None or wait > IN_RUN_WAIT:
                return  # deferred rows (quiet hours, longer backoff) are resumed by the tick job
            await asyncio.sleep(max(wait, 0.05))

    async def _seconds_to_next_retry(self, announcement_id: int) -> float | None:
        async with self.sessions() as session:
            soonest = await session.scalar(
                select(func.min(Delivery.not_before)).where(
                    Delivery.announcement_id == announcement_id, Delivery.status == DeliveryStatus.PENDING.value
                )
            )
        return None if soonest is None else (soonest - self.clock()).total_seconds()

    async def _due(self, announcement_id: int, cursor: int) -> list[Row]:
        now = self.clock()
        async with self.sessions() as session:
            result = await session.execute(
                select(Delivery.id, Delivery.member_id, Member.telegram_id, Member.locale, Delivery.attempts)
                .join(Member, Member.id == Delivery.member_id)
                .where(
                    Delivery.announcement_id == announcement_id,
                    Delivery.status == DeliveryStatus.PENDING.value,
                    Delivery.id > cursor,
                    (Delivery.not_before.is_(None)) | (Delivery.not_before <= now),
                )
                .order_by(Delivery.id)
                .limit(max(self.window * 4, FETCH_MIN))
            )
            return [Row(*values) for values in result.all()]

    async def _sender(self, queue: asyncio.Queue[Row | None], outcomes: list[Outcome], texts: dict[str, str],
                      options: tuple[str | None, str | None, str | None]) -> None:
        while (row := await queue.get()) is not None:
            outcomes.append(await self._send(row, texts, options))

    async def _send(self, row: Row, texts: dict[str, str], options: tuple[str | None, str | None, str | None]) -> Outcome:
        photo, link_url, link_text = options
        markup = None
        if link_url:
            label = link_text or (self.i18n.gettext("Open", locale=self._locale(row.locale)) if self.i18n else "Open")
            markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=label[:64], url=link_url)]])
        text = text_for(texts, row.locale)
        paid = True if self.paid else None
        while True:
            token = await self.gate.acquire(row.chat_id, track=True)
            try:
                try:
                    if photo:
                        sent = await self.bot.send_photo(row.chat_id, photo, caption=text, reply_markup=markup, allow_paid_broadcast=paid)
                    else:
                        sent = await self.bot.send_message(row.chat_id, text, reply_markup=markup, allow_paid_broadcast=paid)
                finally:
                    self.gate.finished(token)
                return Outcome(row, DeliveryStatus.SENT.value, message_id=sent.message_id)
            except TelegramRetryAfter as error:
                # Flood control covers the whole bot: everyone waits, this row goes again.
                self.stats.http_429 += 1
                self.gate.pause(error.retry_after)
                log.warning("flood control: pausing %s s", error.retry_after)
            except TelegramForbiddenError as error:
                return Outcome(row, DeliveryStatus.BLOCKED.value, error=error.message[:300])
            except TelegramBadRequest as error:
                return Outcome(row, DeliveryStatus.FAILED.value, error=error.message[:300])
            except (TelegramNetworkError, TelegramServerError, asyncio.TimeoutError) as error:
                attempts = row.attempts + 1
                again = next_try(attempts, self.clock())
                if again is None:
                    return Outcome(row, DeliveryStatus.FAILED.value, error=f"gave up after {attempts} attempts: {error}"[:300])
                return Outcome(row, "retry", error=str(error)[:300], retry_at=again)

    async def _persister(self, announcement_id: int, outcomes: list[Outcome], slots: asyncio.Semaphore) -> None:
        while True:
            await asyncio.sleep(self.flush_every)
            await self._flush(announcement_id, outcomes, slots)

    async def _flush(self, announcement_id: int, outcomes: list[Outcome], slots: asyncio.Semaphore) -> None:
        """Write finished sends in one transaction, then free their window slots."""
        if not outcomes:
            return
        batch = outcomes[:]
        del outcomes[: len(batch)]
        now = self.clock()
        finished: list[dict[str, Any]] = []
        retries: list[dict[str, Any]] = []
        blocked_members: list[int] = []
        tally = {"sent": 0, "blocked": 0, "failed": 0}
        sent_value = DeliveryStatus.SENT.value
        for outcome in batch:
            row = outcome.row
            if outcome.status == "retry":
                retries.append({"b_id": row.delivery_id, "b_attempts": row.attempts + 1, "b_error": outcome.error,
                                "b_not_before": outcome.retry_at})
                continue
            sent = outcome.status == sent_value
            finished.append({"b_id": row.delivery_id, "b_status": outcome.status, "b_attempts": row.attempts + 1,
                             "b_error": outcome.error, "b_message_id": outcome.message_id,
                             "b_sent_at": now if sent else None})
            tally[outcome.status] += 1
            if outcome.status == DeliveryStatus.BLOCKED.value:
                blocked_members.append(row.member_id)
        async with self.sessions() as session:
            if finished:
                await session.execute(_FINISHED, finished)
            if retries:
                await session.execute(_RETRY, retries)
            if blocked_members:  # as bot/services/members.mark_blocked does, in one statement, audited
                await session.execute(update(Member).where(Member.id.in_(blocked_members)).values(is_active=False))
                audit = Repo(session).audit
                for member_id in blocked_members:
                    await audit.record("member.blocked_bot", actor_id=member_id)
            await session.execute(
                update(Announcement).where(Announcement.id == announcement_id).values(
                    sent_count=Announcement.sent_count + tally["sent"],
                    blocked_count=Announcement.blocked_count + tally["blocked"],
                    failed_count=Announcement.failed_count + tally["failed"],
                )
            )
            await session.commit()
        self.stats.retried += len(retries)
        self.stats.sent += tally["sent"]
        self.stats.blocked += tally["blocked"]
        self.stats.failed += tally["failed"]
        for _ in batch:
            self._outstanding -= 1
            slots.release()

    # --- progress and report --------------------------------------------------------------

    async def _progress(self, announcement_id: int) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY)
            await self._report(announcement_id, final=False)

    async def _report(self, announcement_id: int, *, final: bool) -> None:
        async with self.sessions() as session:
            announcement = await session.get(Announcement, announcement_id)
            if announcement is None or not announcement.progress_chat_id or not announcement.progress_message_id:
                return
            figures = await counts(session, announcement, self.clock())
            author = await session.get(Member, announcement.created_by) if announcement.created_by else None
        from bot.announce_report import progress_text, report_text

        locale = self._locale(author.locale if author else None)
        elapsed = time.monotonic() - self.stats.started
        text = report_text(figures, elapsed, locale, self.i18n) if final else progress_text(figures, locale, self.i18n)
        try:
            await self.bot.edit_message_text(text, chat_id=announcement.progress_chat_id, message_id=announcement.progress_message_id)
        except TelegramBadRequest as error:
            if "not modified" not in error.message:
                log.warning("could not update the progress of announcement %s: %s", announcement_id, error.message)
        except Exception:  # progress is a courtesy; sending goes on
            log.exception("progress update failed")

    async def _finish(self, announcement_id: int) -> None:
        async with self.sessions() as session:
            announcement = await session.get(Announcement, announcement_id)
            if announcement is None:
                return
            figures = await counts(session, announcement, self.clock())
            if figures.pending == 0 and announcement.status == AnnouncementStatus.SENDING.value:
                announcement.status = AnnouncementStatus.DONE.value
                announcement.finished_at = self.clock()
            await session.commit()
        await self._report(announcement_id, final=True)
        log.info("announcement %s: %s sent, %s blocked, %s failed, %s deferred", announcement_id,
                 figures.sent, figures.blocked, figures.failed, figures.deferred)

