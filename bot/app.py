"""Wiring: the Bot, the Dispatcher with its middlewares and routers, storage and errors."""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from dataclasses import dataclass

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramForbiddenError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.api_session import JsonBodySession
from bot.button_ids import ButtonIdsMiddleware
from bot.chat_scope import GroupChatterFilter, PrivateOnly
from bot.config import Settings
from bot.fsm_storage import DatabaseStorage
from bot.geo import warm_up
from bot.i18n import create_i18n, resolve_locale
from bot.routing import skip_unmatchable_routers
from bot.services.members import stored_locale
from bot.transaction import CommitBeforeRequest
from bot.services import notices
from bot.middlewares import ButtonGuardMiddleware, DbSessionMiddleware, LocaleMiddleware, MemberMiddleware, ThrottleMiddleware
from db.session import create_engine, create_session_factory
from handlers import get_routers

log = logging.getLogger(__name__)


def create_bot(settings: Settings) -> Bot:
    """A Bot talking to Telegram or to any Bot API server at TELEGRAM_API_BASE."""
    session = JsonBodySession(api=TelegramAPIServer.from_base(settings.telegram_api_base),
                              limit=max(100, 2 * settings.max_updates_in_flight))
    # The one rule: the update's transaction is committed before any Bot API request (bot/transaction.py).
    session.middleware(CommitBeforeRequest())
    return Bot(settings.token(), session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


def create_storage(settings: Settings, session_factory: async_sessionmaker[AsyncSession]) -> BaseStorage:
    """Redis when several workers share FSM state, else our own database."""
    if settings.redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(settings.redis_url)
    return DatabaseStorage(session_factory)


@dataclass
class App:
    """Everything a running bot needs, created once per process."""

    settings: Settings
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    i18n: I18n
    dispatcher: Dispatcher

    async def close(self) -> None:
        await self.dispatcher.storage.close()
        await self.engine.dispose()


def create_dispatcher(settings: Settings, session_factory: async_sessionmaker[AsyncSession], i18n: I18n) -> Dispatcher:
    """The Dispatcher with middlewares in order: group chatter, throttle, db session, member, FSM,
    locale, private-only rules (bot/chat_scope.py), then for buttons the id range check and the
    button guard.

    aiogram's FSM middleware is moved after the session, so the state is read once, inside the
    update's transaction, instead of in a session (and a pooled connection) of its own; on our
    database storage that read is the member's own statement (MemberMiddleware)."""
    dp = Dispatcher(storage=create_storage(settings, session_factory), settings=settings, session_factory=session_factory,
                    disable_fsm=True)
    dp.update.outer_middleware(GroupChatterFilter())  # first: group talk must not even count towards the throttle
    dp.update.outer_middleware(ThrottleMiddleware(i18n, settings.throttle_rate, settings.throttle_burst, session_factory))
    dp.update.outer_middleware(DbSessionMiddleware(session_factory))
    dp.update.outer_middleware(MemberMiddleware(dp.fsm))  # reads the conversation record with the member
    dp.update.outer_middleware(dp.fsm)
    LocaleMiddleware(i18n).setup(dp)
    PrivateOnly(i18n).setup(dp)
    dp.callback_query.outer_middleware(ButtonIdsMiddleware(i18n))
    dp.callback_query.outer_middleware(ButtonGuardMiddleware(i18n))
    dp.include_routers(*get_routers())
    inline_sync_filters(dp)
    lighter_middleware_chains()
    skip_unmatchable_routers(dp)  # a /help or a language button is not offered to two dozen routers
    cheaper_keyboard_builder()
    dp.errors.register(_on_error)
    dp.startup.register(_warm_up)
    return dp


def inline_sync_filters(root: Router) -> int:
    """Run synchronous filters (every `F.…` magic filter) on the loop instead of in a thread.

    aiogram calls a synchronous filter through `asyncio.to_thread`: a thread hop (and a fight
    for the GIL) per filter per update, for what is an attribute comparison. Each such filter
    of every router under `root` is wrapped in a coroutine that calls it directly. Handlers are
    left alone. Returns how many filters were wrapped."""
    wrapped = 0
    for router in root.chain_tail:
        for observer in router.observers.values():
            for handler in [*observer.handlers, observer._handler]:
                for item in handler.filters or ():
                    if not item.awaitable:
                        item.callback = _on_loop(item.callback)
                        item.awaitable = True
                        wrapped += 1
    return wrapped


def _on_loop(function: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return call


async def _warm_up() -> None:
    """Before the first update: the big tables built in a thread, then garbage collection tuned.

    Everything alive after start-up (modules, the gazetteer's 34 k cities, catalogues) is moved
    out of the collector's sight (`gc.freeze`), and young generations are collected less often,
    so no full collection pauses the loop in the middle of a burst."""
    global _frozen
    await asyncio.to_thread(warm_up)
    if not _frozen:  # once per process (tests start many bots in one)
        _frozen = True
        gc.collect()
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD_YOUNG, 20, 100)


_frozen = False


# Allocations between young-generation collections (CPython's default is 700; 2 000 since 3.13).
GC_THRESHOLD_YOUNG = 20_000


def pool_size_for(settings: Settings) -> int:
    """Connections: one per update in flight (each holds at most one), plus the worker's jobs."""
    return settings.max_updates_in_flight + 8


def cheaper_keyboard_builder() -> None:
    """aiogram's KeyboardBuilder deep-copies every button already added each time one more is
    added (`add` starts from `export()`), so a keyboard of n buttons costs n² pydantic deep copies:
    a quarter of a /nearby update's CPU. `export()` (behind `as_markup()`, `buttons` and `adjust()`)
    deep-copied them all once more. Here both copy only the rows: the buttons, built and never
    changed afterwards, are shared between the builder and the markups it hands out; what they
    build is the same. Idempotent."""
    from aiogram.utils.keyboard import KeyboardBuilder

    if getattr(KeyboardBuilder.add, "_rows_only", False):
        return

    def add(self: KeyboardBuilder[Any], *buttons: Any) -> KeyboardBuilder[Any]:
        self._validate_buttons(*buttons)
        markup = [list(row) for row in self._markup]
        if markup and len(markup[-1]) < self.max_width:
            last_row = markup[-1]
            pos = self.max_width - len(last_row)
            head, buttons = buttons[:pos], buttons[pos:]
            last_row.extend(head)
        if self.max_width > 0:
            while buttons:
                row, buttons = buttons[: self.max_width], buttons[self.max_width :]
                markup.append(list(row))
        else:
            markup.append(list(buttons))
        self._markup = markup
        return self

    def export(self: KeyboardBuilder[Any]) -> list[list[Any]]:
        return [list(row) for row in self._markup]

    add._rows_only = True  # type: ignore[attr-defined]
    add.__doc__ = KeyboardBuilder.add.__doc__
    export.__doc__ = KeyboardBuilder.export.__doc__
    KeyboardBuilder.add = add  # type: ignore[method-assign]
    KeyboardBuilder.export = export  # type: ignore[method-assign]


def lighter_middleware_chains() -> None:
    """aiogram wraps every handler (and every router's propagation) in its middleware chain on
    each update, and the innermost wrapper is made with `functools.wraps`, which copies the
    handler's name, module, docstring and `__dict__` onto a fresh function each time: a dozen times
    an update, for metadata nothing reads. Here the chain is built the same way without that copy.
    Idempotent."""
    from aiogram.dispatcher.middlewares.manager import MiddlewareManager

    if getattr(MiddlewareManager.wrap_middlewares, "_plain", False):
        return

    def wrap_middlewares(middlewares: Any, handler: Any) -> Any:
        def handler_wrapper(event: Any, kwargs: dict[str, Any]) -> Any:
            return handler(event, **kwargs)

        middleware: Any = handler_wrapper
        for m in reversed(middlewares):
            middleware = functools.partial(m, middleware)
        return middleware

    wrap_middlewares._plain = True  # type: ignore[attr-defined]
    MiddlewareManager.wrap_middlewares = staticmethod(wrap_middlewares)  # type: ignore[method-assign,assignment]


def create_app(settings: Settings) -> App:
    """Engine, sessions, i18n and dispatcher for these settings."""
    engine = create_engine(settings.database_url, pool_size=pool_size_for(settings),
                           sqlite_busy_timeout=settings.sqlite_busy_timeout)
    session_factory = create_session_factory(engine)
    i18n = create_i18n(settings.default_locale)
    return App(settings, engine, session_factory, i18n, create_dispatcher(settings, session_factory, i18n))


async def _on_error(event: ErrorEvent, i18n: I18n, session_factory: async_sessionmaker[AsyncSession]) -> bool:
    """Log any handler failure and apologise to the user in their language; never crash."""
    update = event.update
    user = update.event.from_user if hasattr(update.event, "from_user") else None  # type: ignore[union-attr]
    if isinstance(event.exception, TelegramForbiddenError):
        # They blocked the bot: stop writing to them until they write again. In a group a 403
        # means the bot was removed from the group, which says nothing about the member.
        message = update.message or (update.callback_query.message if update.callback_query else None)
        in_private = message is None or message.chat.type == "private"
        if user is not None and in_private:  # the notice sender's path for a 403 (bot/services/notices.py)
            async with session_factory() as session:
                await notices.bot_blocked(session, [user.id])
                await session.commit()
        log.info("user %s has blocked the bot", user.id if user else "?")
        return True
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    # The locale middleware's context is gone by now: look the member's choice up again (the
    # failure may have been the database itself, so only Telegram's language is then left).
    stored = None
    if user is not None:
        try:
            async with session_factory() as session:
                stored = await stored_locale(session, user.id)
        except Exception:
            log.warning("no stored locale for the apology to user %s", user.id)
    locale = resolve_locale(stored, user.language_code if user else None, i18n.default_locale)
    text = i18n.gettext("Sorry, something went wrong on our side. Please try again in a moment.", locale=locale)
    try:
        if update.message is not None:
            await update.message.answer(text)
        elif update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
    except Exception:  # the apology itself failed: the log above is all we can do
        log.exception("could not apologise for update %s", update.update_id)
    return True
