"""The Bot API client: aiogram's aiohttp session, with JSON request bodies.

aiogram sends every request as a form: each nested value (a keyboard, entities, a reply target)
is encoded to a JSON string, then the whole form is percent-encoded field by field, through
aiohttp's FormData. The Bot API takes a JSON body just as well, and one `json.dumps` of the
parameters costs a fraction of that. Requests that upload a file keep aiogram's multipart form.

Values are prepared as aiogram's own `prepare_value` does (plain strings, numbers, lists and
dicts directly; defaults such as parse_mode, dates, enums and files by `prepare_value` itself),
and the fields aiogram's form leaves out (None and empty strings) are left out here too, so the
server sees the same parameters either way.

Answers: a successful answer's `result` is validated straight into the method's return type (a
`TypeAdapter` per type, built once), without building aiogram's `Response[...]` model around it
each time; the result is the same object aiogram would return. Any other answer (an HTTP error,
`"ok": false`, something that does not parse) goes through aiogram's own `check_response`, so
429, 403, 400 and the rest raise aiogram's exceptions as before.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientError
from pydantic import TypeAdapter, ValidationError

JSON_HEADERS = {"Content-Type": "application/json"}


try:  # orjson where it is installed: several times faster both ways
    import orjson

    _dumps = orjson.dumps
    _loads: Any = orjson.loads
except ImportError:  # pragma: no cover - the standard library does the same, slower
    orjson = None

    def _dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    _loads = json.loads


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(returning: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(returning)
    if adapter is None:
        # Optional, as in aiogram's Response: a server may answer a result of null.
        adapter = _adapters[returning] = TypeAdapter(returning | None)
    return adapter


class JsonBodySession(AiohttpSession):
    """AiohttpSession that posts JSON (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", _loads)
        super().__init__(**kwargs)

    async def close(self) -> None:
        """aiogram's close waits 250 ms for TLS connections to finish closing (aiohttp's graceful
        shutdown). A session that speaks plain HTTP, to a local Bot API server on the same host,
        has no TLS connection to wait for, so it closes at once; an https server keeps the wait."""
        if self._session is not None and not self._session.closed and self.api.base.startswith("http://"):
            await self._session.close()
            return
        await super().close()

    def json_body(self, bot: Bot, method: TelegramMethod[TelegramType]) -> bytes | None:
        """The request body, or None when the request carries a file (then it stays a form)."""
        files: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self._prepare(value, bot, files)
            if value is None or value == "":  # what aiogram's form leaves out (its other values are non-empty strings)
                continue
            params[key] = value
        if files:
            return None
        return _dumps(params)

    async def make_request(self, bot: Bot, method: TelegramMethod[TelegramType],
                           timeout: int | None = None) -> TelegramType:
        body = self.json_body(bot, method)
        if body is None:
            return await super().make_request(bot, method, timeout)
        try:
            status, raw_result = await self.post_json(bot, method.__api_method__, body,
                                                      self.timeout if timeout is None else timeout)
        except asyncio.TimeoutError as e:
            raise TelegramNetworkError(method=method, message="Request timeout error") from e
        except ClientError as e:
            raise TelegramNetworkError(method=method, message=f"{type(e).__name__}: {e}") from e
        return cast(TelegramType, self.result_of(bot, method, status, raw_result))

    def result_of(self, bot: Bot, method: TelegramMethod[TelegramType], status: int, content: str) -> Any:
        """The answer's result (see the module docstring); errors raise as aiogram's `check_response` does."""
        if 200 <= status <= 226:
            try:
                answer = self.json_loads(content)
            except Exception:
                answer = None
            if type(answer) is dict and answer.get("ok") is True:
                try:
                    return _adapter(method.__returning__).validate_python(answer.get("result"), context={"bot": bot})
                except ValidationError:
                    pass  # aiogram's own check says how it failed
        return self.check_response(bot=bot, method=method, status_code=status, content=content).result

    def _prepare(self, value: Any, bot: Bot, files: dict[str, Any]) -> Any:
        """`prepare_value(value, _dumps_json=False)`, with the plain values (most of them) taken directly."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float or value is None:
            return value
        if kind is dict:
            return {key: item for key, item in ((key, self._prepare(item, bot, files)) for key, item in value.items())
                    if item is not None}
        if kind is list:
            return [item for item in (self._prepare(item, bot, files) for item in value) if item is not None]
        return self.prepare_value(value, bot=bot, files=files, _dumps_json=False)

    async def post_json(self, bot: Bot, method_name: str, body: bytes, timeout: Any) -> tuple[int, str]:
        """One HTTP round trip: the status and the body of the Bot API server's answer."""
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method_name)
        async with session.post(url, data=body, headers=JSON_HEADERS, timeout=timeout) as resp:
            return resp.status, await resp.text()
