"""A card opened from outside its list (a deep link, a search result shown again): the event's or
organisation's card as the directory shows it, sent as a new message."""

from __future__ import annotations

from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import MapCB
from bot.services import directory
from bot.services import events as ev
from bot.views.cards import organisation_card
from bot.views.events import event_card_view
from db.models import Member


async def send_card(message: Message, session: AsyncSession, member: Member | None, kind: str, item_id: int, locale: str) -> bool:
    """Send an event's or organisation's card; False if it is not listed."""
    if kind == "o":
        organisation = await directory.get_organisation(session, item_id)
        if organisation is None:
            return False
        builder = InlineKeyboardBuilder()
        builder.button(text=_("📍 Show on map"), callback_data=MapCB(k="o", id=organisation.id))
        text, markup = organisation_card(organisation, locale), builder.as_markup()
    else:
        event = await directory.get_event(session, item_id)
        if event is None:
            return False
        card = await ev.event_card(session, event, member)
        text, markup = event_card_view(card, locale, member.timezone if member else None)
    await message.answer(text, reply_markup=markup, disable_web_page_preview=True)
    return True
