"""Filters shared by handlers."""

from __future__ import annotations

from aiogram.filters import BaseFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery


class CurrentMenu(BaseFilter):
    """True only for buttons on the menu the conversation is at now (not an old message)."""

    async def __call__(self, query: CallbackQuery, state: FSMContext) -> bool:
        if query.message is None:
            return False
        return (await state.get_data()).get("menu_id") == query.message.message_id
