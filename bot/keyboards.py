"""Keyboards, built at call time so their labels are in the current locale."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import LanguageCB
from bot.config import LOCALES
from bot.i18n import LANGUAGE_NAMES


def language_keyboard(current: str | None = None) -> InlineKeyboardMarkup:
    """Each language in its own name; the current one is ticked."""
    builder = InlineKeyboardBuilder()
    for code in LOCALES:
        mark = "✓ " if code == current else ""
        builder.button(text=f"{mark}{LANGUAGE_NAMES[code]}", callback_data=LanguageCB(code=code))
    builder.adjust(2)
    return builder.as_markup()
