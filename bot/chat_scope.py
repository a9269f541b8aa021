"""Where each command may run: everything that shows or changes one member's data is private-chat-only.

Deny by default. In a group, supergroup or channel only the public commands and buttons below
run; any other command addressed to the bot gets a short answer in the sender's language with
a button that opens the private chat, and shows nothing about anyone. Other group talk (the
bot sees all of it when it is an administrator) is dropped before it costs a database session.

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
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware, Bot, Dispatcher
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, ReplyParameters, TelegramObject, Update
from aiogram.utils.i18n import I18n

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

GROUP_COMMANDS = frozenset({"help", "atlas", "post_here"})
GROUP_CALLBACK_PREFIXES = frozenset({"atlas"})
CALLBACK_SEPARATOR = ":"  # aiogram's CallbackData separator


def is_private(message: Message | None) -> bool:
    return message is not None and message.chat.type == ChatType.PRIVATE


async def addressed_command(message: Message, bot: Bot) -> str | None:
    """The command name if the message is a command for this bot ("/atlas", "/atlas@this_bot"), else None."""
    text = message.text or ""
    if not text.startswith("/"):
        return None
    head = text[1:].split(maxsplit=1)[0] if len(text) > 1 else ""
    name, _at, mention = head.partition("@")
    if not name:
        return None
    if mention and mention.lower() != ((await bot.me()).username or "").lower():
        return None  # meant for another bot in the same group
    return name.lower()


def _event_message(update: Update) -> Message | None:
    return update.message or update.edited_message or update.channel_post or update.edited_channel_post


class GroupChatterFilter(BaseMiddleware):
    """Update level, before the database session: drop group and channel messages that are not commands for us."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        message = _event_message(event)
        if message is None or is_private(message):
            return await handler(event, data)
        if event.message is not None and await addressed_command(message, data["bot"]) is not None:
            return await handler(event, data)
        return None  # edits, channel posts and chatter in groups: nothing for us to do


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
