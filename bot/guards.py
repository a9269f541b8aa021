"""Role guards: a router that carries one cannot have a handler that forgets the check.

A guard is an inner middleware of a router's message and callback observers: it runs for every
handler of that router that matched (and of the routers included in it), re-reads the role from
the database on every update (a role revoked a second ago counts), and answers a refusal in the
member's language instead of calling the handler. A refused member's conversation of the guarded
flows is cleared; any other conversation is left alone. Other observers (my_chat_member, inline
queries) are not guarded.

* `RequireSecretariat` (`guard(router, *flows)`): the secretariat only.
* `RequireRepresentative` (`guard_representatives(router, *flows)`): a representative of at least
  one active organisation, or the secretariat. Whether this member may act on *this* event or
  organisation is still decided by the service (`check_can_manage`, `represents`).

The ButtonGuard (bot/middlewares.py) still refuses buttons that are not on the message, before
any of this runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.services.events import represented_organisations
from bot.services.roles import is_secretariat
from bot.views.events import representative_only, secretariat_only

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
Refusal = Callable[[], str]


class RoleGuard(BaseMiddleware):
    """Calls the handler when `allowed(data)`, else answers `refusal()` and clears the guarded flows."""

    default_refusal: Refusal = staticmethod(secretariat_only)

    def __init__(self, *flows: type[StatesGroup], refusal: Refusal | None = None) -> None:
        self.states = {name for flow in flows for name in flow.__all_states_names__}
        self.refusal = refusal or self.default_refusal

    async def allowed(self, data: dict[str, Any]) -> bool:
        raise NotImplementedError

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if await self.allowed(data):
            return await handler(event, data)
        state = data.get("state")
        if state is not None and await state.get_state() in self.states:
            await state.clear()
        refusal = self.refusal()
        if isinstance(event, CallbackQuery):
            await event.answer(refusal, show_alert=True)
        elif isinstance(event, Message):
            await event.answer(refusal)
        return None


class RequireSecretariat(RoleGuard):
    async def allowed(self, data: dict[str, Any]) -> bool:
        return await is_secretariat(data["session"], data.get("member"), data["settings"].secretariat_ids)


class RequireRepresentative(RoleGuard):
    default_refusal = staticmethod(representative_only)

    async def allowed(self, data: dict[str, Any]) -> bool:
        member = data.get("member")
        if member is None:
            return False
        if await represented_organisations(data["session"], member):
            return True
        return await is_secretariat(data["session"], member, data["settings"].secretariat_ids)


def guard(router: Router, *flows: type[StatesGroup]) -> Router:
    """Put the secretariat guard on every message and button handler of `router`."""
    router.message.middleware(RequireSecretariat(*flows))
    router.callback_query.middleware(RequireSecretariat(*flows))
    return router


def guard_representatives(router: Router, *flows: type[StatesGroup], refusal: Refusal | None = None,
                          button_refusal: Refusal | None = None) -> Router:
    """Put the representatives' guard on every message and button handler of `router`.

    `refusal` answers a message (a command, a form step), `button_refusal` a button; both default
    to "Only a representative of this organisation can do this."."""
    router.message.middleware(RequireRepresentative(*flows, refusal=refusal))
    router.callback_query.middleware(RequireRepresentative(*flows, refusal=button_refusal))
    return router
