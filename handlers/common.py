"""/help, also from the main menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.callbacks import MenuCB
from bot.views import not_registered_text
from db.models import Member

router = Router(name="common")


async def send_help(message: Message) -> None:
    await message.answer(
        _(
            "<b>What I can do</b>\n"
            "/start — register, or show the main menu\n"
            "/nearby — organisations and events near you\n"
            "/events — upcoming events, and the ones you answered\n"
            "/search — find organisations by name or city\n"
            "/atlas — the Diaspora Atlas: where our communities live\n"
            "/calendar — your events in your calendar app\n"
            "/reminders — event reminders on or off\n"
            "/profile — see and edit what we keep about you\n"
            "/settings — notifications, radius and quiet hours\n"
            "/language — change the language\n"
            "/mydata — get all your data as a file\n"
            "/delete — erase all your data\n"
            "/help — this message\n\n"
            "<b>Organisations</b>: /submit_event, /my_events, /channels\n"
            "<b>Secretariat</b>: /announce, /scheduled, /pending, /grant, /revoke, /trust"
        )
    )


@router.message(Command("help"))
async def help_(message: Message) -> None:
    await send_help(message)


@router.callback_query(MenuCB.filter(F.action == "help"))
async def help_from_menu(query: CallbackQuery, member: Member | None) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await send_help(query.message)  # type: ignore[arg-type]
    await query.answer()
