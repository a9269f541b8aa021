"""Last in line: unknown commands and messages nobody else took."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

router = Router(name="fallback")


@router.message(F.text.startswith("/"))
async def unknown_command(message: Message) -> None:
    await message.answer(_("I don't know that command. Send /help to see what I can do."))


@router.message()
async def anything_else(message: Message) -> None:
    await message.answer(_("I didn't understand that. Send /help to see what I can do."))


@router.callback_query()
async def stale_button(query: CallbackQuery) -> None:
    # A button from an old message, or one a modified client made up.
    await query.answer(_("This menu has expired. Please start again."), show_alert=True)
