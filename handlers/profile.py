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
from bot.views import not_registered_text, profile_view
from db.models import Member

router = Router(name="profile")


@router.message(Command("profile"))
async def profile(message: Message, member: Member | None, state: FSMContext) -> None:
    if member is None:
        await message.answer(not_registered_text())
        return
    await state.clear()
    text, markup = profile_view(member)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCB.filter(F.action == "profile"))
async def profile_from_menu(query: CallbackQuery, member: Member | None, state: FSMContext) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await state.clear()
    text, markup = profile_view(member)
    await query.message.answer(text, reply_markup=markup)  # type: ignore[union-attr]
    await query.answer()
