"""The delivery engine: every chosen member gets an announcement once, at the allowed rate.

An announcement is snapshotted into `deliveries` (one row per recipient). A feeder reads
due rows, workers send them through one rate gate, a persister writes results in small
transactions. A window bounds rows taken but not yet persisted: after a crash the engine
resumes from the table, and at most that window is sent twice.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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

from bot.services.announcements import audience_members, counts, quiet_until, text_for
from db.models import Announcement, AnnouncementStatus, Delivery, DeliveryStatus, Member
from db.types import utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message
IN_RUN_WAIT = 3.0  # a retry due sooner than this is waited for; later ones wait for the next tick


class RateGate:
    """At most `rate` sends in any sliding second, evenly spaced, and one per chat per second.

    One gate per process: every announcement sending at once shares it. TelegramRetryAfter
    pauses the whole gate, since Telegram's flood control is per bot.

    Telegram counts a request when it arrives, somewhere between the gate letting it go and
    its answer, so the sliding second is widened by the request latency: a sender that
    reports back (`acquire(..., track=True)`, then `finished(token)`) lets the gate know the
    recent latency and how long the oldest request has been on its way; sends are counted
    for 1 s plus the larger of the two (at least `MARGIN`). A stalled server thus slows the
    gate down instead of earning a 429 and a whole second of pause. Sends are paced at
    `PACE` of the rate, so the widened second rarely binds. A late wake-up (asyncio sleeps
    with ~1 ms resolution, and the loop may be busy) releases the sends that fell due
    meanwhile, up to a small burst, rather than losing them.
    """

    PACE = 0.99
    MARGIN = 0.004  # seconds added to the sliding second, at least
    REMEMBER = 1.05  # a latency is remembered this long at least (two buckets): past its send's second

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / (rate * self.PACE)
        self.cap = max(1, math.floor(rate))
        self.burst = min(0.05, max(self.interval, 8.0 / rate))  # how far behind the pace may catch up
        self._sent: deque[float] = deque()
        self._next = 0.0
        self._paused_until = 0.0
        self._chats: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self._latency = [0.02, 0.0]  # the largest latency of the previous and the current bucket
        self._bucket_at = time.monotonic()
        self._tokens = 0
        self._flying: deque[tuple[int, float]] = deque()  # tracked sends not finished, in order
        self._landed: set[int] = set()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def horizon(self, now: float) -> float:
        """How long a send counts in the sliding window: 1 s plus what it may take to arrive."""
        self._rotate(now)
        latency = max(self.MARGIN, *self._latency)
        flying, landed = self._flying, self._landed
        while flying and flying[0][0] in landed:
            landed.discard(flying.popleft()[0])
        if flying:
            latency = max(latency, now - flying[0][1])
        return 1.0 + min(latency, 1.0)

    def finished(self, token: int | None) -> None:
        """A tracked send got its answer (or failed): note its latency."""
        if token is None:
            return
        now = time.monotonic()
        self._landed.add(token)
        for key, started in self._flying:  # usually the first few
            if key == token:
                self._rotate(now)
                self._latency[1] = max(self._latency[1], now - started)
                break

    def _rotate(self, now: float) -> None:
        if now - self._bucket_at >= self.REMEMBER:
            self._latency = [self._latency[1] if now - self._bucket_at < 2 * self.REMEMBER else 0.0, 0.0]
            self._bucket_at = now

    async def acquire(self, chat_id: int, *, track: bool = False) -> int | None:
        async with self._lock:
            sent = self._sent
            while True:
                now = time.monotonic()
                horizon = self.horizon(now)
                while sent and sent[0] <= now - horizon:
                    sent.popleft()
                wait = max(self._next - now, self._paused_until - now, self._chats.get(chat_id, -10.0) + horizon - now)
                if len(sent) >= self.cap:
                    wait = max(wait, sent[0] + horizon - now)
                if wait <= 0:
                    break
                await asyncio.sleep(min(wait, 0.05))  # the horizon may shrink meanwhile
            sent.append(now)
            self._chats[chat_id] = now
            # Catch up on small scheduling delays, never beyond the sliding-window cap.
            self._next = max(self._next + self.interval, now - self.burst)
            if len(self._chats) > 100_000:
                self._chats = {chat: at for chat, at in self._chats.items() if at > now - horizon}
            if not track:
                return None
            self._tokens += 1
            self._flying.append((self._tokens, now))
            return self._tokens


_gates: dict[tuple[int, float], RateGate] = {}


def gate_for(bot: Bot, rate: float) -> RateGate:
    """The process-wide gate of a bot at a rate."""
    key = (bot.id, rate)
    if key not in _gates:
        _gates[key] = RateGate(rate)
    return _gates[key]


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


def window_for(rate: float) -> int:
    """Rows taken but not yet persisted, at most: about 0.3 s of sending, at least 48.

    The floor lets slow broadcasts write results a few times a second rather than after
    every handful of sends; a crash can still resend no more than this window.
    """
    return max(48, math.ceil(rate * 0.3))


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
        self.workers = min(self.window, max(4, math.ceil(rate * 0.1)))
        # Each write is a commit (an fsync): batch more at low rates, where the window lasts longer.
        self.flush_every = min(FLUSH_EVERY[1], max(FLUSH_EVERY[0], self.window / rate / 4))
        self.stats = Stats()
        self._outstanding = 0  # rows queued or sent whose outcome is not persisted yet

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
            label = link_text or (self.i18n.gettext("Open", locale=row.locale or "en") if self.i18n else "Open")
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
                if attempts >= MAX_ATTEMPTS:
                    return Outcome(row, DeliveryStatus.FAILED.value, error=f"gave up after {attempts} attempts: {error}"[:300])
                backoff = timedelta(seconds=min(300, 2 ** attempts))
                return Outcome(row, "retry", error=str(error)[:300], retry_at=self.clock() + backoff)

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
            if blocked_members:
                await session.execute(update(Member).where(Member.id.in_(blocked_members)).values(is_active=False))
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

        locale = author.locale if author and author.locale else "en"
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

