"""/start and /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.i18n import escape

router = Router(name="common")


@router.message(CommandStart())
async def start(message: Message) -> None:
    name = escape(message.from_user.first_name if message.from_user else "")
    await message.answer(
        _(
            "Welcome to Kardeş, {name}! I help the Turkic-speaking diaspora find each other: "
            "organisations and events near you, and news from the diaspora agencies.\n\n"
            "Send /help to see what I can do, or /language to change the language."
        ).format(name=name)
    )


@router.message(Command("help"))
async def help_(message: Message) -> None:
    await message.answer(
        _(
            "<b>What I can do</b>\n"
            "/start — start, or show the main menu\n"
            "/language — change the language\n"
            "/help — this message"
        )
    )
