"""Running the bot: long polling or a webhook server, with a graceful stop.

Our own polling loop, rather than aiogram's, because it validates each update on its
own (one malformed update is logged and skipped instead of stalling getUpdates),
serialises the updates of one user, and waits for in-flight handlers on stop.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramAPIError, TelegramNetworkError, TelegramRetryAfter, TelegramUnauthorizedError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiohttp import web
from pydantic import ValidationError

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25  # seconds Telegram holds a getUpdates request open


class GetRawUpdates(TelegramMethod[list[dict[str, Any]]]):
    """getUpdates returning plain dicts, so each update is validated separately."""

    __returning__ = list[dict[str, Any]]
    __api_method__ = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


def _user_key(raw: dict[str, Any]) -> int | None:
    for value in raw.values():
        if isinstance(value, dict):
            sender = value.get("from")
            if isinstance(sender, dict) and isinstance(sender.get("id"), int):
                return sender["id"]
    return None


class UpdateFeeder:
    """Validates raw updates and runs them as tasks, one at a time per user."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, on_handled: Callable[[int], None] | None = None) -> None:
        """`on_handled(update_id)` is called once each update is finished (or skipped as malformed)."""
        self.bot = bot
        self.dispatcher = dispatcher
        self.on_handled = on_handled
        self._locks: defaultdict[int | None, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()

    def feed(self, raw: dict[str, Any]) -> bool:
        """Start handling one update; False (and a log line) when it is malformed."""
        try:
            update = Update.model_validate(raw, context={"bot": self.bot})
        except ValidationError as error:
            log.warning("skipped malformed update %s: %s", raw.get("update_id"), error.errors()[:1])
            if self.on_handled is not None and isinstance(raw.get("update_id"), int):
                self.on_handled(raw["update_id"])
            return False
        task = asyncio.create_task(self._handle(_user_key(raw), update))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _handle(self, user: int | None, update: Update) -> None:
        lock = self._locks[user] if user is not None else asyncio.Lock()
        async with lock:
            try:
                await self.dispatcher.feed_update(self.bot, update)
            except Exception:  # the dispatcher's error handler already answered; keep serving
                log.exception("update %s escaped the error handler", update.update_id)
            finally:
                if self.on_handled is not None:
                    self.on_handled(update.update_id)
        if user is not None and not lock.locked() and self._locks.get(user) is lock:
            del self._locks[user]

    async def drain(self) -> None:
        """Wait for every update in flight."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


async def run_polling(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event, *,
                      on_handled: Callable[[int], None] | None = None, **workflow: Any) -> None:
    """Long-poll until `stop` is set, then finish the updates in flight and confirm them.

    `on_handled(update_id)` (optional) hears when each update is finished: the test harness
    uses it to wait for the bot instead of waiting for silence."""
    feeder = UpdateFeeder(bot, dispatcher, on_handled)
    allowed = dispatcher.resolve_used_update_types()
    await bot.delete_webhook(drop_pending_updates=False)
    await dispatcher.emit_startup(bot=bot, **workflow)
    offset: int | None = None
    backoff = 1.0
    log.info("polling for updates")
    try:
        while not stop.is_set():
            request = asyncio.ensure_future(
                bot(GetRawUpdates(offset=offset, timeout=POLL_TIMEOUT, allowed_updates=allowed), request_timeout=POLL_TIMEOUT + 10)
            )
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({request, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if request not in done:
                request.cancel()
                break
            try:
                updates = request.result()
            except TelegramUnauthorizedError:
                raise
            except TelegramRetryAfter as error:
                await _sleep_or_stop(stop, error.retry_after)
                continue
            except (TelegramNetworkError, TelegramAPIError) as error:
                log.warning("getUpdates failed (%s); retrying in %.0f s", error, backoff)
                await _sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            for raw in updates:
                if isinstance(raw.get("update_id"), int):
                    offset = raw["update_id"] + 1
                feeder.feed(raw)
    finally:
        await feeder.drain()
        if offset is not None:
            # Confirm what we handled, so a restart does not handle it twice.
            try:
                await bot(GetRawUpdates(offset=offset, timeout=0, limit=1))
            except Exception:
                log.warning("could not confirm the last updates before stopping")
        await dispatcher.emit_shutdown(bot=bot, **workflow)
        log.info("polling stopped")


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def webhook_path(webhook_url: str) -> str:
    """The path part of the public webhook URL, where we listen."""
    return urlparse(webhook_url).path or "/webhook"


def create_webhook_app(bot: Bot, dispatcher: Dispatcher, secret: str, path: str,
                       routes: list[web.RouteDef] | None = None, **workflow: Any) -> web.Application:
    """aiohttp app: the webhook (secret checked on every request), /healthz and the public routes."""
    feeder = UpdateFeeder(bot, dispatcher)
    app = web.Application()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            log.warning("webhook request with a missing or wrong secret from %s", request.remote)
            return web.json_response({"ok": False, "description": "Unauthorized"}, status=401)
        try:
            raw = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            log.warning("webhook request with a body that is not JSON")
            return web.json_response({"ok": True})  # skipped: Telegram must not resend it
        if isinstance(raw, dict):
            feeder.feed(raw)
        return web.json_response({"ok": True})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def on_shutdown(_app: web.Application) -> None:
        await feeder.drain()
        await dispatcher.emit_shutdown(bot=bot, **workflow)

    async def on_startup(_app: web.Application) -> None:
        await dispatcher.emit_startup(bot=bot, **workflow)

    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    app.add_routes(routes or [])
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    return app
