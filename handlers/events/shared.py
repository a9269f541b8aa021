"""What the event flows share: the menu bookkeeping of their conversations and queued notices."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message

from bot.replies import edit_text

NOT_COMMAND = ~F.text.startswith("/")  # a command leaves a form step to its own handler
Nudge = Callable[[], Awaitable[None]]  # dp["nudge_worker"]: start the worker's queues now (bot/process.py)


async def menu(message: Message, state: FSMContext, text: str, markup: Any = None) -> Message:
    """Send a step's question and remember it, so buttons of older menus are refused (CurrentMenu)."""
    sent = await message.answer(text, reply_markup=markup, disable_web_page_preview=True)
    await state.update_data(menu_id=sent.message_id)
    return sent


async def close(query: CallbackQuery, text: str) -> None:
    """Replace a menu by what was chosen, and answer the button."""
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()
