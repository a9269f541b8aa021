"""/language (also from the main menu and the profile): pick the language, switched at once."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import LanguageCB, MenuCB, ProfileCB
from bot.commands import set_chat_menu
from bot.config import LOCALES
from bot.keyboards import language_keyboard
from bot.replies import edit_text
from bot.services.members import set_locale
from bot.views import not_registered_text
from db.models import Member

router = Router(name="language")


@router.message(Command("language"))
async def ask_language(message: Message, i18n: I18n) -> None:
    await message.answer(_("Choose your language:"), reply_markup=language_keyboard(i18n.current_locale))


@router.callback_query(MenuCB.filter(F.action == "language"))
async def language_from_menu(query: CallbackQuery, member: Member | None, i18n: I18n) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await ask_language(query.message, i18n)  # type: ignore[arg-type]
    await query.answer()


@router.callback_query(ProfileCB.filter(F.field == "language"))
async def language_from_profile(query: CallbackQuery, member: Member | None, state: FSMContext, i18n: I18n) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await query.answer()
    await state.clear()
    await ask_language(query.message, i18n)  # type: ignore[arg-type]


@router.callback_query(LanguageCB.filter())
async def choose_language(
    query: CallbackQuery,
    callback_data: LanguageCB,
    session: AsyncSession,
    member: Member | None,
    state: FSMContext,
    i18n: I18n,
) -> None:
    if callback_data.code not in LOCALES:  # forged by a modified client
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if member is not None:
        await set_locale(session, member, callback_data.code)
    else:
        # Not registered yet: remember the choice with the conversation, not as personal data.
        await state.update_data(locale=callback_data.code)
    with i18n.use_locale(callback_data.code):  # the reply in the new language (committed before it is sent)
        text = _("Language set: English. Send /help to see what I can do.")
        await edit_text(query.message, text)
        await query.answer()
    if member is not None:
        await set_chat_menu(query.bot, i18n, query.from_user.id, callback_data.code)  # type: ignore[arg-type]
