"""The command menu (once per language, and per chat in the member's chosen language) and the
bot's name and descriptions per language."""

from __future__ import annotations

import logging
from functools import lru_cache

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeChat
from aiogram.utils.i18n import I18n

from bot.config import LOCALES

log = logging.getLogger(__name__)

# (command, description); descriptions are msgids translated per locale at registration.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", "Start or show the main menu"),
    ("nearby", "Organisations and events near you"),
    ("events", "Upcoming events and your answers"),
    ("search", "Search organisations by name or city"),
    ("atlas", "Diaspora Atlas: where our communities live"),
    ("calendar", "Your calendar feed of events"),
    ("submit_event", "Organisations: submit an event"),
    ("my_events", "Organisations: your events"),
    ("channels", "Organisations: linked channels and groups"),
    ("profile", "Your profile"),
    ("settings", "Notification settings"),
    ("reminders", "Event reminders on or off"),
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
_("Upcoming events and your answers")
_("Event reminders on or off")


def commands_for(i18n: I18n, locale: str, *, in_groups: bool = False) -> list[BotCommand]:
    """The menu in one locale; in groups only the public commands (bot/chat_scope.py)."""
    return list(_commands(i18n, locale, in_groups))


@lru_cache(maxsize=64)
def _commands(i18n: I18n, locale: str, in_groups: bool) -> tuple[BotCommand, ...]:
    # Built once per catalogue and locale: a language button sets a chat's menu each time.
    from bot.chat_scope import GROUP_COMMANDS

    return tuple(BotCommand(command=name, description=i18n.gettext(text, locale=locale)) for name, text in COMMANDS
                 if not in_groups or name in GROUP_COMMANDS)


# The bot's profile in each language: its name, the "What can this bot do?" text of an empty chat,
# and the line on its profile page. msgids, translated when they are set.
NAME = "Kardeş — Turkic diaspora"
DESCRIPTION = ("Kardeş helps the Turkic-speaking diaspora find organisations, events and news near them, "
               "in eight languages. Tap Start and choose yours.")
SHORT_DESCRIPTION = "Organisations, events and news of the Turkic-speaking diaspora near you."
_("Kardeş — Turkic diaspora")
_("Kardeş helps the Turkic-speaking diaspora find organisations, events and news near them, "
  "in eight languages. Tap Start and choose yours.")
_("Organisations, events and news of the Turkic-speaking diaspora near you.")


async def register_commands(bot: Bot, i18n: I18n, default_locale: str) -> None:
    """Set the menu for every language, and the default locale's for everyone else (groups get the
    public part); then the bot's name and descriptions per language."""
    groups = BotCommandScopeAllGroupChats()
    await bot.set_my_commands(commands_for(i18n, default_locale))
    await bot.set_my_commands(commands_for(i18n, default_locale, in_groups=True), scope=groups)
    for locale in LOCALES:
        await bot.set_my_commands(commands_for(i18n, locale), language_code=locale)
        await bot.set_my_commands(commands_for(i18n, locale, in_groups=True), scope=groups, language_code=locale)
    log.info("command menu registered in %d languages", len(LOCALES))
    await register_profile(bot, i18n, default_locale)


async def set_chat_menu(bot: Bot, i18n: I18n, chat_id: int, locale: str) -> bool:
    """The menu of one private chat in the member's chosen language (Telegram would otherwise show
    the phone's language). A failure is logged, never raised: the menu is a convenience."""
    try:
        await bot.set_my_commands(commands_for(i18n, locale), scope=BotCommandScopeChat(chat_id=chat_id))
    except (TelegramAPIError, ClientDecodeError) as error:
        log.warning("could not set the command menu of chat %s: %s", chat_id, error)
        return False
    return True


async def register_profile(bot: Bot, i18n: I18n, default_locale: str) -> None:
    """Name, description and short description for every language (and the default one without
    a language), changed only where they differ: Telegram allows few changes a day. A server that
    refuses (429) or does not know the methods is logged and skipped."""
    fields = (
        ("name", NAME, bot.get_my_name, bot.set_my_name),
        ("description", DESCRIPTION, bot.get_my_description, bot.set_my_description),
        ("short_description", SHORT_DESCRIPTION, bot.get_my_short_description, bot.set_my_short_description),
    )
    changed = 0
    for field, msgid, get, put in fields:
        for language in (None, *LOCALES):
            text = i18n.gettext(msgid, locale=language or default_locale)
            try:
                current = getattr(await get(language_code=language), field, None)
                if current == text:
                    continue
                await put(**{field: text}, language_code=language)
                changed += 1
            except (TelegramAPIError, ClientDecodeError) as error:  # refused, or an answer we cannot read
                log.warning("could not set the bot's %s (%s): %s; skipping the rest of it", field, language or "default", error)
                break
    log.info("bot profile: %d texts changed", changed)
