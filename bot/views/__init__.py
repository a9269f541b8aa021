"""Screens shown from several flows: the main menu, the profile card, "register first"."""

from __future__ import annotations

from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.i18n import LANGUAGE_NAMES, escape
from bot.keyboards import main_menu_keyboard, profile_keyboard, quiet_label
from bot.labels import country_label, interest_label, language_list, place_label
from db.models import Member


async def show_main_menu(message: Message, member: Member) -> None:
    await message.answer(
        _("Welcome back, {name}! What would you like to do?").format(name=escape(member.display_name or "")),
        reply_markup=main_menu_keyboard(),
    )


def profile_text(member: Member) -> str:
    """Everything stored about the member, in their language."""
    locale = member.locale or "en"
    on, off = _("on"), _("off")
    quiet = (member.quiet_start, member.quiet_end) if member.quiet_start and member.quiet_end else None
    lines = [
        _("<b>Your profile</b>"),
        _("Name: {value}").format(value=escape(member.display_name or "—")),
        _("Lives in: {city}, {country}").format(
            city=escape(place_label(member.city_id, member.city_name, locale)), country=escape(country_label(member.country_code, locale))
        ),
        _("Time zone: {value}").format(value=escape(member.timezone or "—")),
        _("Origin: {country}").format(country=escape(country_label(member.origin_country, locale))),
        _("Languages: {value}").format(value=escape(language_list(member.languages or [], locale))),
        _("Interests: {value}").format(value=escape(", ".join(interest_label(c) for c in member.interests or []) or "—")),
        _("Announcements: {state}").format(state=on if member.notify_announcements else off),
        _("New events near me: {state}, within {km} km").format(state=on if member.notify_events else off, km=member.radius_km),
        _("Weekly digest: {state}").format(state=on if member.digest_weekly else off),
        _("Quiet hours: {value}").format(value=quiet_label(quiet)),
        _("Bot language: {value}").format(value=LANGUAGE_NAMES.get(locale, locale)),
    ]
    return "\n".join(lines)


async def show_profile(message: Message, member: Member) -> None:
    await message.answer(profile_text(member), reply_markup=profile_keyboard())


def not_registered_text() -> str:
    return _("You are not registered yet. Send /start to begin.")


async def tell_not_registered(target: Message | CallbackQuery) -> None:
    """The answer to a member's command or button (the main menu's, the profile's) from someone who
    is not registered, or no longer: a button press gets an alert."""
    if isinstance(target, CallbackQuery):
        await target.answer(not_registered_text(), show_alert=True)
    else:
        await target.answer(not_registered_text())
