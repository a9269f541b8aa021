"""Inline mode: `@bot berlin` (or an organisation's name) in any chat lists upcoming event cards;
the card sent carries the "RSVP in the bot" deep link. Junk gets an empty list, never an error."""

from __future__ import annotations

import logging

from aiogram import Bot, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineQuery, InlineQueryResultArticle, InputTextMessageContent
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import format_when
from bot.org_views import channel_card
from bot.services.inline_search import upcoming_matches
from db.models import Member
from db.types import utcnow

log = logging.getLogger(__name__)
router = Router(name="inline")
CACHE_SECONDS = 30  # short: answers change as events are approved or fill up


@router.inline_query()
async def inline_events(query: InlineQuery, session: AsyncSession, member: Member | None, bot: Bot, i18n: I18n) -> None:
    locale = i18n.current_locale  # the member's row, else the query's language_code (LocaleMiddleware)
    username = (await bot.me()).username
    results = []
    for event, organisation in await upcoming_matches(session, query.query, utcnow()):
        text, markup = channel_card(event, organisation, locale, username)
        when = format_when(event.starts_at, locale, member.timezone if member and member.timezone else event.timezone, "medium")
        results.append(InlineQueryResultArticle(
            id=f"e{event.id}", title=event.title[:100], description=f"{when} · {organisation.name}"[:200],
            input_message_content=InputTextMessageContent(message_text=text, parse_mode="HTML", link_preview_options=None),
            reply_markup=markup,
        ))
    try:
        await query.answer(results, cache_time=CACHE_SECONDS, is_personal=member is not None)
    except TelegramAPIError as error:  # the query expired (over 10 s): nothing to show any more
        log.info("inline query %s not answered: %s", query.id, error)
