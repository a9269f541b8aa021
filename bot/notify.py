"""The one sender for messages to members outside a reply.

Every such message is a row of the notices queue (bot/services/notices.py), queued in the
transaction that caused it, and goes out through `send_due` (the worker's rounds, jobs/notices.py)
or `send_rendered` (one message about someone's action, sent at once from the update):

* each recipient reads it in their own language (`resolve_locale`, with the default locale) and
  time zone: `render_for`;
* quiet hours defer it to their end unless it is urgent; the worker sends it then;
* the process's rate gate (bot/rate_gate.py) paces it with broadcasts, reminders and digests;
* 429 (flood control, which covers the whole bot) pauses the gate for everyone and the round
  stops: the rest stays queued for the next one, nobody sleeps inside an update or a job;
* 403 (the member blocked the bot) marks the member inactive, audited;
* a network or server error backs off and tries again (notices.next_try); any other refusal fails.

A round claims due rows a window at a time (bot/rate_gate.window_for; the next while the last
sends), sends them concurrently through the gate (workers_for), and commits their outcomes
together, a few times a second. A row is
claimed before it is sent, so two senders never send the same one; a crash loses none (the claim
expires, notices.CLAIM_TTL, and the row goes then) and repeats at most the messages sent but not
yet recorded: about a quarter second of sending (FLUSH_EVERY) plus those in flight.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import resolve_locale
from bot.rate_gate import gate_of, window_for, workers_for
from bot.services import notices
from bot.services.roles import representatives, secretariat_recipients
from bot.views.events import moderation_keyboard, moderation_text
from db.models import ChatLink, DeliveryStatus, Event, Member, NoticeKind, Organisation
from db.types import utcnow

log = logging.getLogger(__name__)

Render = Callable[[str, str | None], tuple[str, InlineKeyboardMarkup | None]]
Text = tuple[str, InlineKeyboardMarkup | None]
# Renders a notice queued without a text (event notices, rendered when sent); None: no longer applies.
Resolve = Callable[[AsyncSession, notices.DueNotice], Awaitable[Text | None]]
DEFAULT_RATE = 25.0  # a gate without a rate of its own (tests' stand-ins) is paced like BROADCAST_RATE's default
FLUSH_EVERY = 0.25  # seconds between commits of outcomes while a batch is sending
IN_UPDATE_WAIT = 3.0  # an update waits out a flood-control pause this short; a longer one leaves it to the worker


class Gate(Protocol):
    """What the sender needs of the RateGate."""

    async def acquire(self, chat_id: int, *, track: bool = False) -> int | None: ...
    def finished(self, token: int | None) -> None: ...
    def pause(self, seconds: float) -> None: ...
    def paused_for(self) -> float: ...


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, blocked, paused, retry, failed
    error: str | None = None
    message_id: int | None = None
    retry_after: float = 0.0  # paused: how long flood control asked us to wait

    @property
    def sent(self) -> bool:
        return self.status == "sent"


@dataclass
class Round:
    """What one round of sending did: messages delivered per kind, and whether flood control stopped it."""

    sent: Counter[str] = field(default_factory=Counter)
    paused: bool = False

    @property
    def total(self) -> int:
        return sum(self.sent.values())


@contextmanager
def speaking(i18n: I18n, member: Member) -> Iterator[str]:
    """Inside, `_()` speaks the member's language (`resolve_locale`, with the default); yields the locale."""
    locale = resolve_locale(member.locale, None, i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        yield locale


def render_for(i18n: I18n, member: Member, render: Render) -> Text:
    """The message in the member's language and time zone."""
    with speaking(i18n, member) as locale:
        return render(locale, member.timezone)


def as_payload(text: str, markup: InlineKeyboardMarkup | None) -> dict[str, Any]:
    """A rendered message as stored in the queue."""
    return {"text": text, "markup": markup.model_dump(mode="json", exclude_none=True) if markup else None}


def from_payload(payload: dict[str, Any]) -> Text:
    markup = payload.get("markup")
    return payload["text"], InlineKeyboardMarkup.model_validate(markup) if markup else None


async def _request(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> Outcome:
    """One sendMessage, its answer as an Outcome; never raises for Telegram's answers."""
    try:
        sent = await bot.send_message(chat_id, text, reply_markup=markup, disable_web_page_preview=True)
        return Outcome("sent", message_id=sent.message_id)
    except TelegramRetryAfter as error:
        log.warning("notify: flood control for %s s (chat %s); kept for later", error.retry_after, chat_id)
        return Outcome("paused", error=error.message[:300], retry_after=float(error.retry_after))
    except TelegramForbiddenError as error:
        return Outcome("blocked", error=error.message[:300])
    except (TelegramNetworkError, TelegramServerError, asyncio.TimeoutError) as error:
        return Outcome("retry", error=str(error)[:300])
    except TelegramAPIError as error:
        log.warning("notify: could not write to chat %s: %s", chat_id, error)
        return Outcome("failed", error=error.message[:300])
    except Exception as error:  # one recipient's trouble must not stop the others
        log.exception("notify: sending to chat %s failed", chat_id)
        return Outcome("retry", error=str(error)[:300])


async def deliver(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *,
                  gate: Gate | None = None) -> Outcome:
    """Send one message (through `gate` when given); never raises for Telegram's answers."""
    token = await gate.acquire(chat_id, track=True) if gate is not None else None
    try:
        outcome = await _request(bot, chat_id, text, markup)
    finally:
        if gate is not None:
            gate.finished(token)
    if outcome.status == "paused" and gate is not None:
        gate.pause(outcome.retry_after)
    return outcome


async def _record(session: AsyncSession, notice: Any, outcome: Outcome, now: Any) -> None:
    """Write a send's outcome on its notice row (the caller commits)."""
    if outcome.status == "sent":
        notices.mark(notice, DeliveryStatus.SENT, now)
    elif outcome.status == "blocked":
        notices.mark(notice, DeliveryStatus.BLOCKED, now, outcome.error)
    elif outcome.status == "failed":
        notices.mark(notice, DeliveryStatus.FAILED, now, outcome.error)
    elif outcome.status == "retry":
        notices.retry_later(notice, now, outcome.error or "")
    else:  # paused: not an attempt; the next round takes it again
        notice.claim, notice.claimed_at = None, None


async def _send_one(bot: Bot, session: AsyncSession, notice: Any, text: str, markup: InlineKeyboardMarkup | None,
                    gate: Gate | None, clock: Callable[[], Any]) -> str:
    """Send a claimed notice and record the outcome on its row (the caller commits)."""
    outcome = await deliver(bot, notice.chat_id, text, markup, gate=gate)
    await _record(session, notice, outcome, clock())
    if outcome.status == "blocked":
        await notices.bot_blocked(session, [notice.chat_id])
    return outcome.status


class _Sending:
    """The sends of one round: a few workers take claimed notices in order and send them through
    the gate, while the round claims more and commits outcomes. Flood control stops it: the sends
    waiting at the gate are called off (their rows stay claimed, for `release`), the ones already
    on their way finish."""

    def __init__(self, bot: Bot, gate: Gate | None) -> None:
        self.bot, self.gate = bot, gate
        self.todo: deque[tuple[Any, Text]] = deque()
        self.outcomes: list[tuple[Any, Outcome]] = []
        self.paused = False
        self.exhausted = False  # nothing more is due: workers leave once the todo is empty
        self._more = asyncio.Event()
        self._at_gate: set[asyncio.Task[None]] = set()

    def feed(self, ready: list[tuple[Any, Text]]) -> None:
        self.todo.extend(ready)
        self._more.set()

    def finish(self) -> None:
        self.exhausted = True
        self._more.set()

    async def worker(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        while not self.paused:
            if not self.todo:
                if self.exhausted:
                    return
                self._more.clear()
                await self._more.wait()
                continue
            notice, (text, markup) = self.todo.popleft()
            self._at_gate.add(task)
            try:
                token = await self.gate.acquire(notice.chat_id, track=True) if self.gate is not None else None
            finally:
                self._at_gate.discard(task)
            try:
                outcome = await _request(self.bot, notice.chat_id, text, markup)
            finally:
                if self.gate is not None:
                    self.gate.finished(token)
            self.outcomes.append((notice, outcome))
            if outcome.status == "paused":
                self.stop(outcome.retry_after)

    def stop(self, retry_after: float) -> None:
        """Flood control covers the whole bot: pause the gate, call off the sends not yet on their way."""
        self.paused = True
        if self.gate is not None:
            self.gate.pause(retry_after)
        for task in list(self._at_gate):
            task.cancel()
        self._more.set()

    def take(self) -> list[tuple[Any, Outcome]]:
        taken, self.outcomes = self.outcomes, []
        return taken


async def _flush(session: AsyncSession, outcomes: list[tuple[Any, Outcome]], result: Round, clock: Callable[[], Any]) -> None:
    """Commit outcomes so far, in one transaction."""
    if not outcomes:
        return
    now = clock()
    for notice, outcome in outcomes:
        await _record(session, notice, outcome, now)
        if outcome.sent:
            result.sent[notice.kind] += 1
    blocked = [notice.chat_id for notice, outcome in outcomes if outcome.status == "blocked"]
    if blocked:
        await notices.bot_blocked(session, blocked)
    await session.commit()


async def _claim(session: AsyncSession, claim: str, size: int, resolve: Resolve | None, clock: Callable[[], Any],
                 ids: list[int] | None) -> list[tuple[Any, Text]] | None:
    """Claim up to `size` due notices and render them (None when none is due); the ones that no
    longer apply are closed. Committed before anything is sent."""
    batch = await notices.claim_due(session, clock(), size, claim, ids)
    if not batch:
        await session.commit()
        return None
    ready: list[tuple[Any, Text]] = []
    for item in batch:
        notice = item.notice
        text = None
        if item.member is None or item.member.is_active:
            if notice.payload:
                text = from_payload(notice.payload)
            elif resolve is not None:
                text = await resolve(session, item)
        if text is None:
            notices.mark(notice, DeliveryStatus.FAILED, clock(), "no longer applies")
        else:
            ready.append((notice, text))
    await session.commit()
    return ready


async def send_due(bot: Bot, session: AsyncSession, *, gate: Gate | None, resolve: Resolve | None = None,
                   clock: Callable[[], Any] = utcnow, ids: list[int] | None = None) -> Round:
    """Send every notice that is due (of `ids`, when given): claimed a window at a time (the next
    one while the last sends), sent concurrently through the gate, outcomes committed every
    FLUSH_EVERY; stops at flood control, giving back what it had claimed and not sent."""
    result = Round()
    claims: list[str] = []  # one per window claimed: a claim names the rows it took, and only those
    rate = float(getattr(gate, "rate", DEFAULT_RATE))
    size, workers = window_for(rate), workers_for(rate)
    sending = _Sending(bot, gate)
    tasks = {asyncio.create_task(sending.worker()) for _ in range(workers)}
    try:
        while tasks:
            if not sending.exhausted and not sending.paused and len(sending.todo) < size:
                claims.append(notices.new_claim())
                ready = await _claim(session, claims[-1], size, resolve, clock, ids)
                if ready is None:
                    sending.finish()
                else:
                    sending.feed(ready)
            done, tasks = await asyncio.wait(tasks, timeout=FLUSH_EVERY, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            await _flush(session, sending.take(), result, clock)
    except BaseException as error:
        sending.stop(0)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if isinstance(error, Exception):  # our own failure, not the process dying: keep what was sent
            await session.rollback()
            await _flush(session, sending.take(), result, clock)
        raise
    if sending.paused:
        for claim in claims:
            await notices.release(session, claim)
        await session.commit()
        result.paused = True
    return result


async def send_rendered(bot: Bot, session: AsyncSession, i18n: I18n, member: Member, render: Render, *,
                        gate: Gate | None = None, kind: NoticeKind = NoticeKind.DIRECT, urgent: bool = False,
                        subject: str | None = None) -> bool:
    """One message about someone's action (a decision, a role, a moderation request), rendered in the
    member's language and zone, queued, and sent at once unless quiet hours or flood control hold it
    (the worker sends it then). `member` may be a transient Member for a chat known only by its id.
    True when it was delivered now.

    Inside an update the queued row is committed before the request (bot/transaction.py), and the
    outcome with the update."""
    now = utcnow()
    text, markup = render_for(i18n, member, render)
    claim = notices.new_claim()
    notice = await notices.queue_message(session, kind, member.telegram_id, member if member.id is not None else None,
                                         as_payload(text, markup), now, urgent=urgent, subject=subject, claim=claim)
    if notice is None:
        return False
    gate = gate if gate is not None else gate_of(bot)
    deferred = notice.not_before is not None and notice.not_before > now
    if deferred or (gate is not None and gate.paused_for() > IN_UPDATE_WAIT):
        notice.claim, notice.claimed_at = None, None
        return False
    return await _send_one(bot, session, notice, text, markup, gate, utcnow) == "sent"


async def tell_secretariat(bot: Bot, session: AsyncSession, i18n: I18n, secretariat_ids: frozenset[int], render: Render) -> int:
    """`send_rendered` to every secretariat chat (a member, or a SECRETARIAT_IDS entry without a member
    row), each in their own language; returns how many were delivered now."""
    delivered = 0
    for chat_id, member in await secretariat_recipients(session, secretariat_ids):
        reader = member or Member(telegram_id=chat_id, locale=None, timezone=None)
        delivered += await send_rendered(bot, session, i18n, reader, render)
    return delivered


def nudge_after_commit(nudge: Callable[[], object] | None,
                       after_commit: Callable[[Callable[[], object]], None] | None) -> None:
    """Ask the worker (when this process runs one) to look at its queues once this update has committed.

    `after_commit` is the update's hook registration (`data["after_commit"]`, bot/transaction.py);
    without one the worker's next tick (a few seconds) picks the work up anyway."""
    if nudge is not None and after_commit is not None:
        after_commit(nudge)


async def notify_representatives(bot: Bot, session_factory: async_sessionmaker[AsyncSession], i18n: Any, link: ChatLink,
                                 text_for: Callable[[ChatLink], str]) -> None:
    """Tell the organisation's representatives about their chat's link (paused, removed), each in
    their language, through the queue; quiet hours defer it."""
    if link.organisation_id is None:
        return
    now = utcnow()
    async with session_factory() as session:
        queued = []
        for member in await representatives(session, link.organisation_id):
            text, markup = render_for(i18n, member, lambda locale, zone: (text_for(link), None))
            notice = await notices.queue_message(session, NoticeKind.CHAT_LINK, member.telegram_id, member,
                                                 as_payload(text, markup), now, organisation_id=link.organisation_id)
            if notice is not None:
                queued.append(notice.id)
        await session.commit()
        if queued:
            await send_due(bot, session, gate=gate_of(bot), ids=queued)


async def send_to_secretariat(bot: Bot, session: AsyncSession, i18n: I18n, secretariat_ids: frozenset[int],
                              event: Event, submitter: Member | None) -> None:
    """An event (or the first occurrence of a series) to moderate, with Approve / Reject, to each
    secretariat member in their language, through the queue."""
    host = await session.get(Organisation, event.organisation_id)
    await tell_secretariat(bot, session, i18n, secretariat_ids, lambda locale, zone: (
        moderation_text(event, host, submitter, locale, zone), moderation_keyboard(event)))
