"""Where each command may run: everything that shows or changes one member's data is private-chat-only.

Deny by default. In a group or supergroup only the public commands and buttons below run; any
other command addressed to the bot gets a short answer in the sender's language with a button
that opens the private chat, and shows nothing about anyone. Other group talk (the bot sees all
of it when it is an administrator) and commands the bot does not have are dropped before they
cost a database session or count towards the sender's throttle. In a channel the bot answers
nothing: a post there has no sender to answer, and whatever the bot wrote would be a public post.
Buttons pressed in any chat but the private one get the same short answer as an alert.

Public in groups, and why:
- ``/help``: the list of commands, the same for everyone;
- ``/atlas`` and its public views (map, countries, registrations, open data): aggregate counts
  with small cells hidden, the same for everyone. The secretariat's breakdowns stay private.
- ``/post_here``: a representative picks the forum topic for their organisation's event cards;
  the answer names nothing about anyone.

A new command or button is private until it is added here.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware, Bot, Dispatcher, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, TelegramObject, Update
from aiogram.utils.i18n import I18n

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

GROUP_COMMANDS = frozenset({"help", "atlas", "post_here"})
GROUP_CALLBACK_PREFIXES = frozenset({"atlas"})
CALLBACK_SEPARATOR = ":"  # aiogram's CallbackData separator


def is_private(message: Message | None) -> bool:
    return message is not None and message.chat.type == ChatType.PRIVATE


_COMMAND = re.compile(r"/([A-Za-z0-9_]+)(?:@([A-Za-z0-9_]+))?(?=\s|$)")


async def addressed_command(message: Message, bot: Bot) -> str | None:
    """The command name if the message is a command for this bot ("/atlas", "/atlas@this_bot"), else None.

    Read as aiogram's Command filter reads it: case-sensitive name, case-insensitive mention.
    """
    match = _COMMAND.match(message.text or "")
    if match is None:
        return None
    name, mention = match.groups()
    if mention and mention.lower() != ((await bot.me()).username or "").lower():
        return None  # meant for another bot in the same group
    return name


def known_commands(dispatcher: Router) -> frozenset[str]:
    """Every command some message handler answers, read from the routers' Command filters."""
    found: set[str] = set()
    for router in dispatcher.chain_tail:
        for handler in router.message.handlers:
            for flt in handler.filters or []:
                if isinstance(flt.callback, Command):
                    found |= {c if isinstance(c, str) else c.command for c in flt.callback.commands if not isinstance(c, re.Pattern)}
    return frozenset(found)


def _event_message(update: Update) -> Message | None:
    return update.message or update.edited_message or update.channel_post or update.edited_channel_post


class GroupChatterFilter(BaseMiddleware):
    """Update level, before the database session: drop group and channel messages that are not our commands.

    A bare "/roll" in a group with several bots may be meant for another one: only commands
    this bot has a handler for are answered.
    """

    def __init__(self) -> None:
        self._commands: frozenset[str] | None = None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        message = _event_message(event)
        if message is None or is_private(message):
            return await handler(event, data)
        if self._commands is None:
            self._commands = known_commands(data["dispatcher"])
        if event.message is not None and await addressed_command(message, data["bot"]) in self._commands:
            return await handler(event, data)
        return None  # edits, channel posts, chatter and other bots' commands in groups: nothing for us to do


class PrivateOnly(BaseMiddleware):
    """Message and button level, after the locale is known: outside the private chat only public features run."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    def setup(self, dispatcher: Dispatcher) -> None:
        dispatcher.message.outer_middleware(self)
        dispatcher.callback_query.outer_middleware(self)

    def _text(self) -> str:
        return self.i18n.gettext("🔒 I answer this only in our private chat, so nothing about you is shown here.")

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message):
            if is_private(event):
                return await handler(event, data)
            command = await addressed_command(event, data["bot"])
            if command in GROUP_COMMANDS:
                return await handler(event, data)
            if command is not None:
                await self._redirect(event, data["bot"])
            return None
        if isinstance(event, CallbackQuery):
            message = event.message if isinstance(event.message, Message) else None
            chat_type = event.message.chat.type if event.message is not None else None
            if chat_type == ChatType.PRIVATE:
                return await handler(event, data)
            prefix = (event.data or "").split(CALLBACK_SEPARATOR, 1)[0]
            if message is not None and prefix in GROUP_CALLBACK_PREFIXES:
                return await handler(event, data)
            log.info("refused callback %r from user %s outside a private chat", prefix, event.from_user.id)
            await event.answer(self._text(), show_alert=True)
            return None
        return await handler(event, data)

    async def _redirect(self, message: Message, bot: Bot) -> None:
        """A short public answer with a button to the private chat."""
        username = (await bot.me()).username
        markup = None
        if username:
            button = InlineKeyboardButton(text=self.i18n.gettext("Open the private chat"), url=f"https://t.me/{username}")
            markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
        try:
            await message.answer(self._text(), reply_markup=markup,
                                 reply_parameters=ReplyParameters(message_id=message.message_id, allow_sending_without_reply=True))
        except TelegramAPIError as error:  # muted or removed from the group: nobody to tell
            log.info("could not answer in chat %s: %s", message.chat.id, error)
