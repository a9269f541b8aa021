"""The update's transaction: one session per update, never held open across a Bot API call.

One rule, applied centrally: before any Bot API request made while an update is handled, the
update's session is committed (`CommitBeforeRequest`, a request middleware on the bot's HTTP
session). A handler may write, then reply, then write again: each reply is preceded by a commit,
so no database lock (SQLite's single writer, a PostgreSQL row lock) and no pooled connection is
held while we wait for Telegram. The middleware commits once more at the end.

After-commit hooks: `data["after_commit"](callable)` in a handler registers a zero-argument
callable (plain or async) that runs once the update's last commit has succeeded and its
session is closed, outside the update's transaction. Use it for work that must see committed
rows (telling other members, nudging the worker). A failing hook is logged; the others still run.
If the update fails, its hooks are dropped.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy.ext.asyncio import AsyncSession

from db.session import has_deferred

log = logging.getLogger(__name__)

Hook = Callable[[], Awaitable[Any] | Any]


class UpdateScope:
    """The session of one update, the task that owns it, its FSM cache and after-commit hooks."""

    __slots__ = ("session", "task", "hooks", "fsm_cache")

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.task = asyncio.current_task()
        self.hooks: list[Hook] = []
        self.fsm_cache: dict[str, Any] = {}  # storage key -> fsm_storage.Conversation, or None when there is none

    def after_commit(self, hook: Hook) -> None:
        """Run `hook` after the update's final commit (see the module docstring)."""
        self.hooks.append(hook)

    def owned(self) -> bool:
        # A task started from a handler inherits the context variable; only the update's own
        # task may use (and commit) its session.
        return self.task is asyncio.current_task()

    async def commit(self) -> None:
        """Commit, unless there is nothing at all to commit (no transaction, no pending change)."""
        session = self.session
        if session.in_transaction() or has_deferred(session) or session.new or session.dirty or session.deleted:
            await session.commit()

    async def run_hooks(self) -> None:
        for hook in self.hooks:
            try:
                result = hook()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("an after-commit hook failed")
        self.hooks.clear()


current_scope: ContextVar[UpdateScope | None] = ContextVar("current_scope", default=None)


def joined_scope() -> UpdateScope | None:
    """The update scope the current task owns, if any."""
    scope = current_scope.get()
    return scope if scope is not None and scope.owned() else None


class CommitBeforeRequest(BaseRequestMiddleware):
    """Commits the update's session before every Bot API request sent while handling it."""

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        scope = joined_scope()
        if scope is not None:
            await scope.commit()
        return await make_request(bot, method)
