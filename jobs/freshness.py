"""Directory freshness, once a day: ask representatives to confirm, hide what nobody confirms."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import create_i18n, resolve_locale
from bot.services.freshness import due_for_confirmation, hide_stale, record_ask
from bot.services.members import mark_blocked
from bot.services.roles import representative_chat_ids, secretariat_chat_ids
from bot.views.notices import ask_text, confirmation_keyboard, hidden_notice
from db.repositories import Repo
from db.types import utcnow
from jobs.context import JobContext, get_context

log = logging.getLogger(__name__)

# At most ~20 messages a second; real rate limiting belongs to the delivery engine.
SEND_INTERVAL = 0.05
# Telegram's limit is 4096 characters; notices about several organisations share a message.
MESSAGE_LIMIT = 4000
# A flood-wait longer than this is not worth holding the job for: the next run asks again.
MAX_RETRY_AFTER = 30


async def ask_representatives_job() -> None:
    """Scheduled entry point of run_freshness."""
    await run_freshness(get_context(), utcnow())


async def run_freshness(context: JobContext, now: datetime) -> None:
    """Send this round's confirmation requests, then hide and report organisations nobody confirmed."""
    if context.bot is None:
        # Counting asks that were never sent would hide organisations unfairly.
        log.error("freshness: no bot in the job context, nothing asked")
        return
    bot = context.bot
    i18n = create_i18n(context.settings.default_locale)
    async with context.session_factory() as session:
        asked = 0
        for org in await due_for_confirmation(session, now):
            for chat_id in await representative_chat_ids(session, org.id):
                with i18n.context(), i18n.use_locale(await _locale_of(session, chat_id, i18n)):
                    text, markup = ask_text(org), confirmation_keyboard(org.id)
                await _send(bot, session, chat_id, text, markup)
            await record_ask(session, org, now)
            # One organisation at a time: a crash halfway must not ask the first ones twice.
            await session.commit()
            asked += 1

        hidden = await hide_stale(session, now)
        reported = [(org, bool(await representative_chat_ids(session, org.id))) for org in hidden]
        await session.commit()
        if reported:
            for chat_id in await secretariat_chat_ids(session, context.settings.secretariat_ids):
                with i18n.context(), i18n.use_locale(await _locale_of(session, chat_id, i18n)):
                    notices = [hidden_notice(org, had_representatives) for org, had_representatives in reported]
                for text in _batched(notices):
                    await _send(bot, session, chat_id, text)
            await session.commit()  # members marked as blocked while reporting
    if asked or hidden:
        log.info("freshness: asked about %d organisations, hid %d", asked, len(hidden))


def _batched(texts: list[str]) -> list[str]:
    """Texts joined into as few messages as fit: one chat, one message, where possible."""
    batches: list[str] = []
    for text in texts:
        if batches and len(batches[-1]) + 2 + len(text) <= MESSAGE_LIMIT:
            batches[-1] = f"{batches[-1]}\n\n{text}"
        else:
            batches.append(text)
    return batches


async def _locale_of(session: AsyncSession, telegram_id: int, i18n: I18n) -> str:
    """The locale a member chose; the default for a chat we know only by its id."""
    member = await Repo(session).members.by_telegram_id(telegram_id)
    return resolve_locale(member.locale if member else None, None, i18n.default_locale)


async def _send(bot: Bot, session: AsyncSession, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None) -> bool:
    """Send one message politely; a failure is logged (403 marks the member blocked), never raised."""
    try:
        for attempt in range(2):
            try:
                await bot.send_message(chat_id, text, reply_markup=markup)
                return True
            except TelegramRetryAfter as error:
                if attempt or error.retry_after > MAX_RETRY_AFTER:
                    log.warning("freshness: flood wait %ss for chat %s, skipped", error.retry_after, chat_id)
                    return False
                await asyncio.sleep(error.retry_after)
        return False
    except TelegramForbiddenError:
        await mark_blocked(session, chat_id)
        log.info("freshness: chat %s has blocked the bot", chat_id)
        return False
    except TelegramAPIError as error:
        log.warning("freshness: could not write to chat %s: %s", chat_id, error)
        return False
    except Exception:  # a network hiccup must not stop the round for everyone else
        log.exception("freshness: sending to chat %s failed", chat_id)
        return False
    finally:
        await asyncio.sleep(SEND_INTERVAL)
