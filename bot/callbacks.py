"""Callback data factories: every inline button's payload, prefixed and typed."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class LanguageCB(CallbackData, prefix="lang"):
    code: str
