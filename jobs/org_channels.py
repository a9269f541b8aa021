"""Posting approved events in organisations' linked channels and groups.

Each run plans, in one short transaction, which cards the linked chats should show, then
sends them through the delivery engine's rate gate (the bot's global rate and one message
per chat per second) and a per-chat gate of 20 messages a minute (Telegram's group limit),
recording each result in its own short transaction. A new event is posted once; a changed
card is edited in place; a cancelled event's card is edited to say so. A 429 defers the chat,
a 403 pauses the link and tells the organisation's representatives.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from sqlalchemy import update

from bot.i18n import resolve_locale
from bot.org_views import channel_card, content_hash, paused_text, removed_for_role_text
from bot.services import org_channels as oc
from bot.notify import notify_representatives
from db.models import ChatPost
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.delivery import gate_for

log = logging.getLogger(__name__)
GROUP_PER_MINUTE = 20


class ChatMinuteGate:
    """At most `limit` messages (posts and edits) in any sliding minute per chat; a chat that is
    full, or told to wait by a 429, is skipped until its time comes (the next run picks it up)."""

    def __init__(self, limit: int = GROUP_PER_MINUTE) -> None:
        self.limit = limit
        self._sent: dict[int, deque[float]] = {}
        self._until: dict[int, float] = {}

    def try_take(self, chat_id: int) -> bool:
        now = time.monotonic()
        if self._until.get(chat_id, 0.0) > now:
            return False
        sent = self._sent.setdefault(chat_id, deque())
        while sent and now - sent[0] >= 60.0:
            sent.popleft()
        if len(sent) >= self.limit:
            return False
        sent.append(now)
        return True

    def hold(self, chat_id: int, seconds: float) -> None:
        self._until[chat_id] = max(self._until.get(chat_id, 0.0), time.monotonic() + seconds)


_minute_gates: dict[int, ChatMinuteGate] = {}


def minute_gate(bot: Bot) -> ChatMinuteGate:
    if bot.id not in _minute_gates:
        _minute_gates[bot.id] = ChatMinuteGate()
    return _minute_gates[bot.id]


async def tick(context: JobContext, now: datetime | None = None) -> int:
    """Post or update what is due; returns how many messages were sent or edited."""
    bot = context.bot
    if bot is None:
        return 0
    now = now or utcnow()
    async with context.session_factory() as session:
        dropped = await oc.drop_links_without_representative(session)
        jobs = await oc.planned_posts(session, now)
        await session.commit()
    for link in dropped:
        await notify_representatives(bot, context.session_factory, context.i18n, link, removed_for_role_text)
    if not jobs:
        return 0
    username = (await bot.me()).username
    gate = gate_for(bot, context.settings.broadcast_rate)
    per_chat = minute_gate(bot)
    i18n = context.i18n
    done = 0
    paused: set[int] = set()
    for job in jobs:
        if job.link_id in paused:
            continue
        locale = resolve_locale(job.locale, None, i18n.default_locale)
        with i18n.context(), i18n.use_locale(locale):
            text, markup = channel_card(job.event, job.organisation, locale, username)
        digest = content_hash(text, markup)
        if digest == job.content_hash:
            continue
        if not per_chat.try_take(job.chat_id):
            continue
        token = await gate.acquire(job.chat_id, track=True)
        error: str | None = None
        message_id = job.message_id
        transient = False
        try:
            try:
                if job.message_id is None:
                    sent = await bot.send_message(job.chat_id, text, reply_markup=markup, message_thread_id=job.thread_id,
                                                  disable_web_page_preview=True)
                    message_id = sent.message_id
                else:
                    await bot.edit_message_text(text, chat_id=job.chat_id, message_id=job.message_id, reply_markup=markup,
                                                disable_web_page_preview=True)
            finally:
                gate.finished(token)
            done += 1
        except TelegramRetryAfter as exc:
            per_chat.hold(job.chat_id, exc.retry_after)
            log.info("chat %s: flood control, waiting %s s", job.chat_id, exc.retry_after)
            continue
        except TelegramForbiddenError as exc:
            paused.add(job.link_id)
            async with context.session_factory() as session:
                link = await oc.pause(session, job.link_id, exc.message)
                await session.commit()
            if link is not None:
                await notify_representatives(bot, context.session_factory, i18n, link, paused_text)
            continue
        except TelegramBadRequest as exc:
            if "message to edit not found" in exc.message:  # deleted in the chat: posted again next time
                async with context.session_factory() as session:
                    await session.execute(update(ChatPost).where(ChatPost.id == job.post_id).values(message_id=None, content_hash=None))
                    await session.commit()
                continue
            if "not modified" not in exc.message:
                error = exc.message  # this version cannot be shown; the next edit of the event tries again
        except (TelegramNetworkError, TelegramServerError) as exc:
            error, transient, digest = str(exc), True, job.content_hash  # type: ignore[assignment]
        async with context.session_factory() as session:
            await oc.record_post(session, job, message_id=message_id, content_hash=digest, error=error, now=now, transient=transient)
            await session.commit()
    return done


async def tick_job() -> None:
    """Scheduled entry point: every 15 seconds."""
    await tick(get_context())
