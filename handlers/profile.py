"""/profile, /settings and the main menu: view and edit what is stored."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import MenuCB, ProfileCB
from bot.keyboards import language_keyboard
from bot.views import show_profile
from db.models import Member
from handlers import directory, privacy, registration
from handlers.common import send_help

router = Router(name="profile")
EDITABLE = ("name", "place", "origin", "languages", "interests", "notifications", "language")


async def _not_registered(target: Message | CallbackQuery) -> None:
    text = _("You are not registered yet. Send /start to begin.")
    if isinstance(target, CallbackQuery):
        await target.answer(text, show_alert=True)
    else:
        await target.answer(text)


@router.message(Command("profile"))
async def profile(message: Message, member: Member | None, state: FSMContext) -> None:
    if member is None:
        await _not_registered(message)
        return
    await state.clear()
    await show_profile(message, member)


@router.message(Command("settings"))
async def settings(message: Message, member: Member | None, state: FSMContext, i18n: I18n) -> None:
    if member is None:
        await _not_registered(message)
        return
    await start_editing(message, state, member, "notifications", i18n.current_locale)


async def start_editing(message: Message, state: FSMContext, member: Member, field: str, locale: str) -> None:
    """Open one questionnaire step, pre-filled from the profile, in editing mode."""
    draft = {
        "languages": list(member.languages or []),
        "interests": list(member.interests or []),
        "notify_announcements": member.notify_announcements,
        "notify_events": member.notify_events,
        "digest_weekly": member.digest_weekly,
        "radius_km": member.radius_km,
        "quiet": [member.quiet_start, member.quiet_end] if member.quiet_start and member.quiet_end else None,
    }
    await state.clear()
    await state.update_data(editing=True, draft=draft)
    if field == "name":
        await registration.ask_name(message, state)
    elif field == "place":
        await registration.ask_place(message, state)
    elif field == "origin":
        await registration.ask_origin(message, state, locale)
    elif field in ("languages", "interests"):
        await registration.ask_toggles(message, state, field, locale)
    elif field == "notifications":
        await registration.ask_notifications(message, state)


@router.callback_query(ProfileCB.filter())
async def edit_field(query: CallbackQuery, callback_data: ProfileCB, member: Member | None, state: FSMContext, i18n: I18n) -> None:
    if member is None:
        await _not_registered(query)
        return
    if callback_data.field not in EDITABLE:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await query.answer()
    if callback_data.field == "language":
        await state.clear()
        await query.message.answer(_("Choose your language:"), reply_markup=language_keyboard(i18n.current_locale))  # type: ignore[union-attr]
        return
    await start_editing(query.message, state, member, callback_data.field, i18n.current_locale)  # type: ignore[arg-type]


@router.callback_query(MenuCB.filter())
async def main_menu(
    query: CallbackQuery, callback_data: MenuCB, member: Member | None, state: FSMContext, i18n: I18n, session: AsyncSession
) -> None:
    if member is None:
        await _not_registered(query)
        return
    message: Message = query.message  # type: ignore[assignment]
    action = callback_data.action
    if action == "nearby":
        await directory.nearby_command(message, session, member, i18n)
    elif action == "profile":
        await state.clear()
        await show_profile(message, member)
    elif action == "settings":
        await start_editing(message, state, member, "notifications", i18n.current_locale)
    elif action == "language":
        await message.answer(_("Choose your language:"), reply_markup=language_keyboard(i18n.current_locale))
    elif action == "mydata":
        await privacy.send_my_data(message, session, member)
    elif action == "help":
        await send_help(message)
    else:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await query.answer()

