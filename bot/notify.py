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

Each row is claimed before it is sent and its outcome committed right after, so a crash repeats
at most the one message in flight (its claim expires, notices.CLAIM_TTL) and loses none.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
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
from bot.rate_gate import gate_of
from bot.services import notices
from bot.services.members import mark_blocked
from bot.services.roles import representatives, secretariat_recipients
from bot.views.events import moderation_keyboard, moderation_text
from db.models import ChatLink, DeliveryStatus, Event, Member, NoticeKind, Organisation
from db.types import utcnow

log = logging.getLogger(__name__)

Render = Callable[[str, str | None], tuple[str, InlineKeyboardMarkup | None]]
Text = tuple[str, InlineKeyboardMarkup | None]
# Renders a notice queued without a text (event notices, rendered when sent); None: no longer applies.
Resolve = Callable[[AsyncSession, notices.DueNotice], Awaitable[Text | None]]
BATCH = 50  # notices claimed at a time
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


async def deliver(bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None, *,
                  gate: Gate | None = None) -> Outcome:
    """Send one message (through `gate` when given); never raises for Telegram's answers."""
    token = await gate.acquire(chat_id, track=True) if gate is not None else None
    try:
        sent = await bot.send_message(chat_id, text, reply_markup=markup, disable_web_page_preview=True)
        return Outcome("sent", message_id=sent.message_id)
    except TelegramRetryAfter as error:
        if gate is not None:
            gate.pause(error.retry_after)
        log.warning("notify: flood control for %s s (chat %s); kept for later", error.retry_after, chat_id)
        return Outcome("paused", error=error.message[:300])
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
    finally:
        if gate is not None:
            gate.finished(token)


async def _send_one(bot: Bot, session: AsyncSession, notice: Any, text: str, markup: InlineKeyboardMarkup | None,
                    gate: Gate | None, clock: Callable[[], Any]) -> str:
    """Send a claimed notice and record the outcome on its row (the caller commits)."""
    outcome = await deliver(bot, notice.chat_id, text, markup, gate=gate)
    now = clock()
    if outcome.status == "sent":
        notices.mark(notice, DeliveryStatus.SENT, now)
    elif outcome.status == "blocked":
        notices.mark(notice, DeliveryStatus.BLOCKED, now, outcome.error)
        await mark_blocked(session, notice.chat_id)
    elif outcome.status == "failed":
        notices.mark(notice, DeliveryStatus.FAILED, now, outcome.error)
    elif outcome.status == "retry":
        notices.retry_later(notice, now, outcome.error or "")
    else:  # paused: not an attempt; the next round takes it again
        notice.claim, notice.claimed_at = None, None
    return outcome.status


async def send_due(bot: Bot, session: AsyncSession, *, gate: Gate | None, resolve: Resolve | None = None,
                   clock: Callable[[], Any] = utcnow, ids: list[int] | None = None) -> Round:
    """Send every notice that is due (of `ids`, when given), one committed outcome at a time; stops
    at flood control, giving back what it had claimed."""
    result = Round()
    claim = notices.new_claim()
    while True:
        batch = await notices.claim_due(session, clock(), BATCH, claim, ids)
        await session.commit()
        if not batch:
            return result
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
                await session.commit()
                continue
            status = await _send_one(bot, session, notice, text[0], text[1], gate, clock)
            await session.commit()
            if status == "paused":
                await notices.release(session, claim)
                await session.commit()
                result.paused = True
                return result
            if status == "sent":
                result.sent[notice.kind] += 1


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
