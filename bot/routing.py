"""Routers that cannot take an update are passed over without trying their handlers.

aiogram offers each message and button press to every router in turn, and each router tries
each of its handlers' filters: with two dozen routers, most of an update's routing went into
routers that had no handler for it. Most handlers, though, say up front what they take: a
`Command("help")` filter (only `/help`), a `SomeCB.filter(...)` filter (only button data with
that prefix). Filters are all required, so a handler that carries one cannot match anything
else. `skip_unmatchable_routers` collects, per router and its sub-routers, the commands and
button prefixes its message and button handlers are limited to; a router whose every handler
is so limited, and whose observer has no outer middleware of its own (which might act even when
no handler matches), is passed over for an update outside its set. Any other router (a handler
that takes free text, a magic filter on the data, a state alone) is tried as before.

What is handled, by which handler, in which order, is unchanged: only routers in which no
handler could have matched are left out, and such a router would have answered UNHANDLED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.types import CallbackQuery, Message, TelegramObject

ANY = None  # a router (subtree) that may take any update of the type

Keys = frozenset[Any] | None


def command_key(message: TelegramObject) -> str | None:
    """The command a message starts with, as `Command` reads it (casefolded), or None."""
    if not isinstance(message, Message):
        return None
    text = message.text or message.caption
    if not text:
        return None
    parts = text.split(maxsplit=1)
    if not parts or parts[0][0] != "/":
        return None
    return parts[0][1:].partition("@")[0].casefold()


def _handler_keys(update_type: str, filters: list[Any]) -> Keys:
    """What one handler is limited to, from the first limiting filter it has; ANY if none."""
    for item in filters:
        callback = item.callback
        if update_type == "message" and isinstance(callback, Command):
            if callback.prefix != "/" or not all(isinstance(c, str) for c in callback.commands):
                continue
            return frozenset(c.casefold() for c in callback.commands)
        if update_type == "callback_query" and isinstance(callback, CallbackQueryFilter):
            data = callback.callback_data
            return frozenset({(data.__separator__, data.__prefix__)})
    return ANY


def _subtree_keys(router: Router, update_type: str, index: dict[tuple[int, str], Keys]) -> Keys:
    keys: set[Any] = set()
    open_ = False
    observer = router.observers.get(update_type)
    if observer is not None:
        if observer.outer_middleware:
            open_ = True
        for handler in observer.handlers:
            limited = _handler_keys(update_type, handler.filters or [])
            if limited is ANY:
                open_ = True
            else:
                keys |= limited
    for child in router.sub_routers:
        child_keys = _subtree_keys(child, update_type, index)
        if child_keys is ANY:
            open_ = True
        else:
            keys |= child_keys
    result: Keys = ANY if open_ else frozenset(keys)
    index[(id(router), update_type)] = result
    return result


def _may_take(update_type: str, event: TelegramObject, keys: frozenset[Any]) -> bool:
    if update_type == "message":
        name = command_key(event)
        return name is not None and name in keys
    data = event.data if isinstance(event, CallbackQuery) else None
    if not data:
        return False
    return any((separator, data.split(separator, 1)[0]) in keys for separator, _ in keys)


def skip_unmatchable_routers(root: Router) -> int:
    """Pass over routers under `root` that no handler of theirs lets take an update (see above).
    Returns how many routers may be passed over for messages or buttons. Idempotent."""
    index: dict[tuple[int, str], Keys] = {}
    for update_type in ("message", "callback_query"):
        for child in root.sub_routers:
            _subtree_keys(child, update_type, index)
    limited = 0
    for router in root.chain_tail:
        if router is root:
            continue
        by_type = {update_type: index.get((id(router), update_type), ANY) for update_type in ("message", "callback_query")}
        by_type = {update_type: keys for update_type, keys in by_type.items() if keys is not ANY}
        original = getattr(router.propagate_event, "_original", router.propagate_event)
        if not by_type:
            if original is not router.propagate_event:
                router.propagate_event = original  # type: ignore[method-assign]
            continue
        limited += 1
        router.propagate_event = _passing_over(original, by_type)  # type: ignore[method-assign]
    return limited


def _passing_over(original: Callable[..., Awaitable[Any]],
                  by_type: dict[str, frozenset[Any]]) -> Callable[..., Awaitable[Any]]:
    async def propagate_event(update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        keys = by_type.get(update_type)
        if keys is not None and not _may_take(update_type, event, keys):
            return UNHANDLED
        return await original(update_type=update_type, event=event, **kwargs)

    propagate_event._original = original  # type: ignore[attr-defined]
    return propagate_event
