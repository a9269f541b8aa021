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
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
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
    """Validates raw updates and runs them, one at a time per user, at most `limit` at once."""

    def __init__(self, bot: Bot, dispatcher: Dispatcher, limit: int = 64,
                 on_handled: Callable[[int], None] | None = None) -> None:
        """`on_handled(update_id)` is called once each update is finished (or skipped as malformed)."""
        self.bot = bot
        self.dispatcher = dispatcher
        self.limit = limit
        self.on_handled = on_handled
        self._locks: defaultdict[int | None, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._tasks: set[asyncio.Task[None]] = set()
        self._foreground = 0
        self._waiter: asyncio.Future[None] | None = None

    @property
    def in_flight(self) -> int:
        return len(self._tasks) + self._foreground

    def _validate(self, raw: dict[str, Any]) -> Update | None:
        try:
            return Update.model_validate(raw, context={"bot": self.bot})
        except ValidationError as error:
            log.warning("skipped malformed update %s: %s", raw.get("update_id"), error.errors()[:1])
            if self.on_handled is not None and isinstance(raw.get("update_id"), int):
                self.on_handled(raw["update_id"])
            return None

    def feed(self, raw: dict[str, Any]) -> asyncio.Task[None] | None:
        """Start handling one update as a task; None (and a log line) when it is malformed."""
        update = self._validate(raw)
        if update is None:
            return None
        task = asyncio.create_task(self._handle(_user_key(raw), update))
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    async def handle(self, raw: dict[str, Any]) -> None:
        """Handle one update in the caller's task (the webhook answers Telegram afterwards)."""
        update = self._validate(raw)
        if update is None:
            return
        self._foreground += 1
        try:
            await self._handle(_user_key(raw), update)
        finally:
            self._foreground -= 1
            self._notify()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._notify()

    def _notify(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        self._waiter = None

    async def _handle(self, user: int | None, update: Update) -> None:
        lock = self._locks[user] if user is not None else asyncio.Lock()
        try:
            async with lock:
                try:
                    await self.dispatcher.feed_update(self.bot, update)
                except Exception:  # the dispatcher's error handler already answered; keep serving
                    log.exception("update %s escaped the error handler", update.update_id)
                finally:
                    if self.on_handled is not None:
                        self.on_handled(update.update_id)
        finally:
            if user is not None and not lock.locked() and self._locks.get(user) is lock:
                del self._locks[user]

    def wait_changed(self, timeout: float | None = None) -> Awaitable[None]:
        """Until an update finishes after this call (or `timeout` passes)."""
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
        return self._wait(self._waiter, timeout)

    @staticmethod
    async def _wait(waiter: asyncio.Future[None], timeout: float | None) -> None:
        try:
            async with asyncio.timeout(timeout):  # a timer (none for None), not wait_for's extra task
                await asyncio.shield(waiter)
        except TimeoutError:
            pass

    async def drain(self, timeout: float | None = None) -> None:
        """Wait for every update in flight; after `timeout`, cancel what is still running."""
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        while self.in_flight:
            left = None if deadline is None else deadline - asyncio.get_running_loop().time()
            if left is not None and left <= 0:
                break
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=left)
            else:
                await self.wait_changed(left)
        unfinished = list(self._tasks)
        if unfinished:
            log.warning("stopping with %d updates unfinished: they are not confirmed, Telegram sends them again",
                        len(unfinished))
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*unfinished, return_exceptions=True)


class Confirmations:
    """Which fetched updates may be confirmed to Telegram: the handled prefix, in id order.

    getUpdates' offset confirms everything below it, so it only ever moves past updates that
    were handled (or skipped as malformed). Updates fetched again while still in flight (they
    are above the offset) are recognised and not started twice.
    """

    def __init__(self) -> None:
        self.offset: int | None = None  # the next getUpdates offset
        self._order: deque[int] = deque()  # fetched, not yet confirmed, ascending
        self._known: set[int] = set()
        self._done: set[int] = set()

    @property
    def unconfirmed(self) -> int:
        return len(self._order)

    def is_new(self, update_id: int) -> bool:
        return update_id not in self._known and (self.offset is None or update_id >= self.offset)

    def fetched(self, update_id: int) -> None:
        if self.offset is None:
            self.offset = update_id
        self._order.append(update_id)
        self._known.add(update_id)

    def handled(self, update_id: int) -> None:
        self._done.add(update_id)
        while self._order and self._order[0] in self._done:
            first = self._order.popleft()
            self._known.discard(first)
            self._done.discard(first)
            self.offset = first + 1


def _workflow_setting(dispatcher: Dispatcher, name: str, default: Any) -> Any:
    settings = dispatcher.workflow_data.get("settings")
    return getattr(settings, name, default) if settings is not None else default


async def run_polling(bot: Bot, dispatcher: Dispatcher, stop: asyncio.Event, *, limit: int | None = None,
                      grace: float | None = None, feeder: UpdateFeeder | None = None,
                      on_handled: Callable[[int], None] | None = None, **workflow: Any) -> None:
    """Long-poll until `stop` is set, then finish the updates in flight and confirm them.

    Backpressure: at most `limit` updates (MAX_UPDATES_IN_FLIGHT) are fetched and not yet
    handled; nothing more is fetched until half of them have finished. The offset confirms only the handled
    prefix. On stop: no more fetching, `grace` seconds (SHUTDOWN_GRACE_SECONDS) to finish, then
    what finished is confirmed and the rest is left to Telegram, which sends it again.

    `on_handled(update_id)` (optional) hears when each update is finished: the test harness
    uses it to wait for the bot instead of waiting for silence."""
    limit = limit or _workflow_setting(dispatcher, "max_updates_in_flight", 64)
    grace = _workflow_setting(dispatcher, "shutdown_grace_seconds", 10.0) if grace is None else grace
    feeder = feeder or UpdateFeeder(bot, dispatcher, limit, on_handled)
    confirm = Confirmations()
    allowed = dispatcher.resolve_used_update_types()
    await bot.delete_webhook(drop_pending_updates=False)
    await dispatcher.emit_startup(bot=bot, **workflow)
    backoff = 1.0
    log.info("polling for updates (at most %d in flight)", limit)
    # Updates in flight are above the offset and come back with every getUpdates: under a backlog,
    # polling for each freed place would fetch (and decode) the whole window again and again. So
    # more is asked for only once half the places are free (or nothing is in flight).
    refill = max(1, limit // 2)
    try:
        while not stop.is_set():
            if feeder.in_flight and limit - feeder.in_flight < refill:
                await _wait_or_stop(stop, feeder.wait_changed())
                continue
            # Updates still in flight are above the offset and come back first: ask for room beyond them.
            size = min(100, confirm.unconfirmed + limit - feeder.in_flight)
            # With updates unconfirmed Telegram answers at once; long-poll only when there are none.
            timeout = POLL_TIMEOUT if confirm.unconfirmed == 0 else 0
            request = asyncio.ensure_future(bot(
                GetRawUpdates(offset=confirm.offset, limit=size, timeout=timeout, allowed_updates=allowed),
                request_timeout=POLL_TIMEOUT + 10,
            ))
            if not await _wait_or_stop(stop, request):
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
            started = 0
            for raw in updates:
                update_id = raw.get("update_id")
                if not isinstance(update_id, int) or not confirm.is_new(update_id):
                    continue
                confirm.fetched(update_id)
                task = feeder.feed(raw)
                if task is None:
                    confirm.handled(update_id)  # malformed: skipped for good
                    continue
                started += 1
                task.add_done_callback(lambda t, uid=update_id: None if t.cancelled() else confirm.handled(uid))
            if not started and confirm.unconfirmed:
                # Nothing new, only updates still in flight: wait for one to finish rather than spin.
                await _wait_or_stop(stop, feeder.wait_changed(timeout=0.1))
    finally:
        await feeder.drain(timeout=grace)
        if confirm.offset is not None:
            # Confirm what was handled, so a restart does not handle it twice.
            try:
                await bot(GetRawUpdates(offset=confirm.offset, timeout=0, limit=1))
            except Exception:
                log.warning("could not confirm the last updates before stopping")
        await dispatcher.emit_shutdown(bot=bot, **workflow)
        log.info("polling stopped")


async def _wait_or_stop(stop: asyncio.Event, awaitable: Any) -> bool:
    """Await `awaitable` unless `stop` is set first (then cancel it); True when it finished."""
    future = asyncio.ensure_future(awaitable)
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({future, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if future not in done:
        future.cancel()
        await asyncio.gather(future, return_exceptions=True)
        return False
    return True


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass


def webhook_path(webhook_url: str) -> str:
    """The path part of the public webhook URL, where we listen."""
    return urlparse(webhook_url).path or "/webhook"


def create_webhook_app(bot: Bot, dispatcher: Dispatcher, secret: str, path: str,
                       routes: list[web.RouteDef] | None = None, *, limit: int | None = None,
                       **workflow: Any) -> web.Application:
    """aiohttp app: the webhook (secret checked on every request), /healthz and the public routes.

    Telegram gets its 200 only once the update is handled, so an update a crash interrupted is
    sent again. At most `limit` updates are handled at once; beyond that a request is refused
    with 503 and Retry-After (Telegram retries it) rather than queued without bound. Stopping
    (AppRunner's shutdown timeout) lets the requests in flight finish."""
    limit = limit or _workflow_setting(dispatcher, "max_updates_in_flight", 64)
    feeder = UpdateFeeder(bot, dispatcher, limit)
    app = web.Application()
    refused = [0, float("-inf")]  # refusals since the last log line, and when that was

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
        if not isinstance(raw, dict):
            return web.json_response({"ok": True})
        if feeder.in_flight >= limit:
            refused[0] += 1
            now = asyncio.get_running_loop().time()
            if now - refused[1] >= 10:  # one line per 10 s: under overload the log must not add to it
                log.warning("webhook: %d updates in flight, asked Telegram to retry %d updates (the last %s)",
                            feeder.in_flight, refused[0], raw.get("update_id"))
                refused[:] = [0, now]
            return web.json_response({"ok": False, "description": "Busy"}, status=503, headers={"Retry-After": "1"})
        await feeder.handle(raw)
        return web.json_response({"ok": True})

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def on_shutdown(_app: web.Application) -> None:
        await feeder.drain(timeout=_workflow_setting(dispatcher, "shutdown_grace_seconds", 10.0))
        await dispatcher.emit_shutdown(bot=bot, **workflow)

    async def on_startup(_app: web.Application) -> None:
        await dispatcher.emit_startup(bot=bot, **workflow)

    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    app.add_routes(routes or [])
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app[FEEDER_KEY] = feeder
    return app


FEEDER_KEY = web.AppKey("feeder", UpdateFeeder)
