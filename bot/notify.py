"""The one sender for messages to members outside a reply.

`render_for` renders in the member's own language (`resolve_locale`, with the default locale)
and time zone; `deliver` sends one message and says what happened instead of raising:

* 403 (the member blocked the bot): "blocked"; `send_rendered` marks the member inactive, audited;
* 429 (flood control, which covers the whole bot): the rate gate, when given, is paused for
  everyone and the outcome is "paused": the caller keeps the message for later, nobody sleeps
  inside an update or a job;
* a network or server error: "retry"; any other refusal: "failed".

Jobs pass the process's rate gate (`jobs.delivery.gate_for`), so notices, reminders, digests and
broadcasts share one budget. Many recipients go through a queue (bot/services/notices.py and
jobs/event_news.py, or the delivery engine for announcements), never a loop in an update.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
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
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import resolve_locale
from bot.services.members import mark_blocked, members_by_telegram_ids
from bot.services.roles import secretariat_chat_ids
from bot.views.events import moderation_keyboard, moderation_text
from db.models import ChatLink, Event, Member, Organisation, Role, RoleName

log = logging.getLogger(__name__)

Render = Callable[[str, str | None], tuple[str, InlineKeyboardMarkup | None]]


class Gate(Protocol):
    """What `deliver` needs of the delivery engine's RateGate."""

    async def acquire(self, chat_id: int, *, track: bool = False) -> int | None: ...
    def finished(self, token: int | None) -> None: ...
    def pause(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Outcome:
    status: str  # sent, blocked, paused, retry, failed
    error: str | None = None
    message_id: int | None = None

    @property
    def sent(self) -> bool:
        return self.status == "sent"


def render_for(i18n: I18n, member: Member, render: Render) -> tuple[str, InlineKeyboardMarkup | None]:
    """The message in the member's language and time zone."""
    locale = resolve_locale(member.locale, None, i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        return render(locale, member.timezone)


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


async def send_rendered(bot: Bot, session: AsyncSession, i18n: I18n, member: Member, render: Render,
                        document: tuple[bytes, str] | None = None, *, gate: Gate | None = None) -> bool:
    """Render in the member's language and zone and send once; a blocked bot marks the member
    inactive (audited). True when it was delivered."""
    text, markup = render_for(i18n, member, render)
    outcome = await deliver(bot, member.telegram_id, text, markup, gate=gate)
    if outcome.status == "blocked":
        await mark_blocked(session, member.telegram_id)
    return outcome.sent


def nudge_after_commit(nudge: Callable[[], object] | None,
                       after_commit: Callable[[Callable[[], object]], None] | None) -> None:
    """Ask the worker (when this process runs one) to look at its queues once this update has committed.

    `after_commit` is the update's hook registration (`data["after_commit"]`, bot/transaction.py);
    without one the worker's next tick (a few seconds) picks the work up anyway."""
    if nudge is not None and after_commit is not None:
        after_commit(nudge)


async def notify_representatives(bot: Bot, session_factory: async_sessionmaker[AsyncSession], i18n: Any, link: ChatLink,
                                 text_for: Callable[[ChatLink], str]) -> None:
    """A few private messages to the organisation's representatives (replies of a kind, not a broadcast)."""
    if link.organisation_id is None:
        return
    async with session_factory() as session:
        representatives = (await session.scalars(
            select(Member).join(Role, Role.member_id == Member.id)
            .where(Role.role == RoleName.ORG_REP.value, Role.organisation_id == link.organisation_id, Member.is_active.is_(True))
        )).unique().all()
        for member in representatives:
            await send_rendered(bot, session, i18n, member, lambda locale, zone: (text_for(link), None))
        await session.commit()


async def send_to_secretariat(bot: Bot, session: AsyncSession, i18n: I18n, secretariat_ids: frozenset[int],
                              event: Event, submitter: Member | None) -> None:
    """An event (or the first occurrence of a series) to moderate, with Approve / Reject, to each
    secretariat member in their language: a few people, not a broadcast."""
    host = await session.get(Organisation, event.organisation_id)
    chat_ids = await secretariat_chat_ids(session, secretariat_ids)
    readers = await members_by_telegram_ids(session, chat_ids)
    for chat_id in chat_ids:
        reader = readers.get(chat_id) or Member(telegram_id=chat_id, locale=None, timezone=None)
        await send_rendered(bot, session, i18n, reader, lambda locale, zone: (
            moderation_text(event, host, submitter, locale, zone), moderation_keyboard(event)))
