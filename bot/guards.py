"""The secretariat's guard: a router that carries it cannot have a handler that forgets the check.

`RequireSecretariat` is an inner middleware of a router's message and callback observers: it
runs for every handler of that router that matched, re-reads the role from the database (a role
revoked a second ago counts), and answers a refusal instead of calling the handler. A refused
member's conversation of the guarded flow is cleared; any other conversation is left alone.
The ButtonGuard (bot/middlewares.py) still refuses buttons that are not on the message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.services.roles import is_secretariat

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class RequireSecretariat(BaseMiddleware):
    def __init__(self, *flows: type[StatesGroup]) -> None:
        self.states = {name for flow in flows for name in flow.__all_states_names__}

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        settings = data["settings"]
        if await is_secretariat(data["session"], data.get("member"), settings.secretariat_ids):
            return await handler(event, data)
        state = data.get("state")
        if state is not None and await state.get_state() in self.states:
            await state.clear()
        refusal = _("Only the secretariat can do this.")
        if isinstance(event, CallbackQuery):
            await event.answer(refusal, show_alert=True)
        elif isinstance(event, Message):
            await event.answer(refusal)
        return None


def guard(router: Router, *flows: type[StatesGroup]) -> Router:
    """Put the secretariat guard on every message and button handler of `router`."""
    router.message.middleware(RequireSecretariat(*flows))
    router.callback_query.middleware(RequireSecretariat(*flows))
    return router
