"""The command menu, registered once per language."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.types import BotCommand
from aiogram.utils.i18n import I18n

from bot.config import LOCALES

log = logging.getLogger(__name__)

# (command, description); descriptions are msgids translated per locale at registration.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Start or show the main menu"),
    ("nearby", "Organisations and events near you"),
    ("search", "Search organisations by name or city"),
    ("atlas", "Diaspora Atlas: where our communities live"),
    ("calendar", "Your calendar feed of events"),
    ("submit_event", "Organisations: submit an event"),
    ("my_events", "Organisations: your events"),
    ("channels", "Organisations: linked channels and groups"),
    ("profile", "Your profile"),
    ("settings", "Notification settings"),
    ("language", "Change the language"),
    ("mydata", "Get all your data as a file"),
    ("delete", "Erase all your data"),
    ("help", "What this bot can do"),
)


def _(message: str) -> str:
    """Marks a msgid for extraction; it is translated when the menu is registered."""
    return message


_("Start or show the main menu")
_("What this bot can do")
_("Change the language")
_("Your profile")
_("Diaspora Atlas: where our communities live")
_("Your calendar feed of events")
_("Organisations: submit an event")
_("Organisations: your events")
_("Organisations: linked channels and groups")
_("Organisations and events near you")
_("Search organisations by name or city")
_("Notification settings")
_("Get all your data as a file")
_("Erase all your data")


def commands_for(i18n: I18n, locale: str) -> list[BotCommand]:
    """The menu in one locale."""
    return [BotCommand(command=name, description=i18n.gettext(text, locale=locale)) for name, text in COMMANDS]


async def register_commands(bot: Bot, i18n: I18n, default_locale: str) -> None:
    """Set the menu for every language, and the default locale's for everyone else."""
    await bot.set_my_commands(commands_for(i18n, default_locale))
    for locale in LOCALES:
        await bot.set_my_commands(commands_for(i18n, locale), language_code=locale)
    log.info("command menu registered in %d languages", len(LOCALES))
