"""Numbers in button payloads are range-checked before any handler passes them to the database.

Every whole-number field of our CallbackData factories (row ids, offsets, hundredths of a degree,
radii, guests) fits a PostgreSQL INTEGER; a modified client can still send 2^63, which SQLite
and asyncpg refuse with an exception. Found by the payload's prefix, so a factory added later
is covered without listing it here.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, TelegramObject
from aiogram.utils.i18n import I18n

from bot.numbers import IntRange

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

CALLBACK_INT = IntRange(-(2**31), 2**31 - 1)


def _factories() -> dict[str, type[CallbackData]]:
    found: dict[str, type[CallbackData]] = {}
    pending = list(CallbackData.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        prefix = getattr(cls, "__prefix__", None)
        if prefix:
            found[prefix] = cls
    return found


_known: dict[str, type[CallbackData]] = {}


def _factory(prefix: str) -> type[CallbackData] | None:
    """The factory of a prefix; the registry is walked again when a prefix is new (factories defined later)."""
    if prefix not in _known:
        _known.update(_factories())
    return _known.get(prefix)


def ids_in_range(data: str | None) -> bool:
    """False when the payload belongs to one of our factories and one of its numbers is out of range."""
    if not data:
        return True
    for separator in {getattr(cls, "__separator__", ":") for cls in (_known or _factories()).values()}:
        cls = _factory(data.split(separator, 1)[0])
        if cls is None or getattr(cls, "__separator__", ":") != separator:
            continue
        try:
            values = cls.unpack(data)
        except (TypeError, ValueError):
            return True  # not this factory's shape: its filter will not match either
        return all(value in CALLBACK_INT for value in values.model_dump().values()
                   if isinstance(value, int) and not isinstance(value, bool))
    return True


class ButtonIdsMiddleware(BaseMiddleware):
    """Answers a button whose numbers no handler could look up, instead of letting the database raise."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, CallbackQuery)
        if ids_in_range(event.data):
            return await handler(event, data)
        log.info("refused callback %r from user %s: a number out of range", event.data, event.from_user.id)
        await event.answer(self.i18n.gettext("This menu has expired. Please start again."), show_alert=True)
        return None
