"""/profile: what is stored, with a button per field to edit it.

The edit buttons and the main menu's entries are answered by the routers of their flows (the
questionnaire's steps in handlers/registration.py, the language in handlers/language.py, and so on);
this router answers /profile and the menu's "My profile"."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.callbacks import MenuCB
from bot.views import show_profile, tell_not_registered
from db.models import Member

router = Router(name="profile")


@router.message(Command("profile"))
async def profile(message: Message, member: Member | None, state: FSMContext) -> None:
    if member is None:
        await tell_not_registered(message)
        return
    await state.clear()
    await show_profile(message, member)


@router.callback_query(MenuCB.filter(F.action == "profile"))
async def profile_from_menu(query: CallbackQuery, member: Member | None, state: FSMContext) -> None:
    if member is None:
        await tell_not_registered(query)
        return
    await state.clear()
    await show_profile(query.message, member)  # type: ignore[arg-type]
    await query.answer()
