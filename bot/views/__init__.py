"""Screens shown from several flows: the main menu, the profile card, "register first". Pure: each
returns what to show (a text, and a keyboard where there is one); the caller sends it."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.i18n import LANGUAGE_NAMES, escape
from bot.keyboards import main_menu_keyboard, profile_keyboard, quiet_label
from bot.labels import country_label, interest_label, language_list, place_label
from db.models import Member


View = tuple[str, InlineKeyboardMarkup]


def main_menu_view(member: Member) -> View:
    """The greeting of a registered member, with the main menu's buttons."""
    return _("Welcome back, {name}! What would you like to do?").format(name=escape(member.display_name or "")), main_menu_keyboard()


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


def profile_view(member: Member) -> View:
    """The profile card with its edit buttons."""
    return profile_text(member), profile_keyboard()


def not_registered_text() -> str:
    """The answer to someone not (or no longer) registered: a message to a command, an alert to a button."""
    return _("You are not registered yet. Send /start to begin.")
