"""Small wrappers around Telegram calls that have expected failures."""

from __future__ import annotations

from typing import Any

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InaccessibleMessage, Message


async def edit_text(message: Message | InaccessibleMessage | None, text: str, **kwargs: Any) -> None:
    """Edit a message; pressing the same choice twice ("message is not modified") is no error."""
    if not isinstance(message, Message):
        return
    try:
        await message.edit_text(text, **kwargs)
    except TelegramBadRequest as error:
        if "message is not modified" not in error.message:
            raise


async def edit_markup(message: Message | InaccessibleMessage | None, **kwargs: Any) -> None:
    """Edit a message's keyboard, tolerating an unchanged one."""
    if not isinstance(message, Message):
        return
    try:
        await message.edit_reply_markup(**kwargs)
    except TelegramBadRequest as error:
        if "message is not modified" not in error.message:
            raise
