"""Sending to one member outside a reply: in their own language and time zone.

`send_rendered` renders inside `i18n.use_locale(member's locale)` and sends once; a blocked bot
(403) marks the member inactive; a short flood wait is waited once. Messages to many members go
through the delivery engine (jobs/delivery.py) instead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import resolve_locale
from bot.services.members import mark_blocked
from db.models import Member

log = logging.getLogger(__name__)

# A flood wait longer than this is not waited for inside a job or an update.
MAX_RETRY_AFTER = 30

Render = Callable[[str, str | None], tuple[str, InlineKeyboardMarkup | None]]


async def send_rendered(bot: Bot, session: AsyncSession, i18n: I18n, member: Member,
                        render: Callable[[str, str | None], tuple[str, InlineKeyboardMarkup | None]],
                        document: tuple[bytes, str] | None = None) -> bool:
    """Render a message in the member's language and time zone and send it; failures are logged,
    a blocked bot marks the member inactive. True when it was delivered."""
    locale = resolve_locale(member.locale, None, i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        text, markup = render(locale, member.timezone)
    try:
        for attempt in range(2):
            try:
                await bot.send_message(member.telegram_id, text, reply_markup=markup, disable_web_page_preview=True)
                return True
            except TelegramRetryAfter as error:
                if attempt or error.retry_after > MAX_RETRY_AFTER:
                    return False
                await asyncio.sleep(error.retry_after)
    except TelegramForbiddenError:
        await mark_blocked(session, member.telegram_id)
        return False
    except TelegramAPIError as error:
        log.warning("notify: could not write to chat %s: %s", member.telegram_id, error)
    except Exception:  # one recipient's network trouble must not stop the others
        log.exception("notify: sending to chat %s failed", member.telegram_id)
    return False
