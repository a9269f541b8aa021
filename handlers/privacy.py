"""/mydata (a JSON export of everything stored, also from the main menu) and /delete (erase it)."""

from __future__ import annotations

import json

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import EraseCB, MenuCB
from bot.filters import CurrentMenu
from bot.keyboards import erase_keyboard
from bot.replies import edit_text
from bot.services.registration import erase_member, export_member_data
from bot.states import Erasure
from bot.views import not_registered_text
from db.models import Member

router = Router(name="privacy")


async def send_my_data(message: Message, session: AsyncSession, member: Member | None) -> None:
    """Send the member a JSON file of everything stored about them."""
    if member is None:
        await message.answer(_("We keep no data about you."))
        return
    data = await export_member_data(session, member)
    payload = json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")
    await message.answer_document(
        BufferedInputFile(payload, filename="kardes-mydata.json"),
        caption=_("Everything we keep about you."),
    )


@router.message(Command("mydata"))
async def my_data(message: Message, session: AsyncSession, member: Member | None) -> None:
    await send_my_data(message, session, member)


@router.callback_query(MenuCB.filter(F.action == "mydata"))
async def my_data_from_menu(query: CallbackQuery, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await send_my_data(query.message, session, member)  # type: ignore[arg-type]
    await query.answer()


@router.message(Command("delete"))
async def ask_erase(message: Message, state: FSMContext, member: Member | None) -> None:
    if member is None:
        await state.clear()  # an unfinished registration is all there can be: forget it
        await message.answer(_("We keep no data about you."))
        return
    await state.set_state(Erasure.confirm)
    sent = await message.answer(
        _("This erases your profile and everything linked to it, for good. Are you sure?"),
        reply_markup=erase_keyboard(),
    )
    await state.update_data(menu_id=sent.message_id)


@router.callback_query(Erasure.confirm, EraseCB.filter(), CurrentMenu())
async def erase(query: CallbackQuery, callback_data: EraseCB, state: FSMContext, session: AsyncSession, member: Member | None) -> None:
    await state.clear()
    if not callback_data.confirm or member is None:
        await edit_text(query.message, _("Nothing was erased."), reply_markup=None)
        await query.answer()
        return
    await erase_member(session, member)
    await edit_text(
        query.message, _("All your data has been erased. Send /start if you ever want to come back."), reply_markup=None
    )
    await query.answer()
