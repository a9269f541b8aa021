"""The Bot API client: aiogram's aiohttp session, with JSON request bodies.

aiogram sends every request as a form: each nested value (a keyboard, entities, a reply target)
is encoded to a JSON string, then the whole form is percent-encoded field by field, through
aiohttp's FormData. The Bot API takes a JSON body just as well, and one `json.dumps` of the
parameters costs a fraction of that. Requests that upload a file keep aiogram's multipart form.

Values are prepared by aiogram's own `prepare_value` (defaults such as parse_mode, dates,
enums), and the fields aiogram's form leaves out (None and empty strings) are left out here too,
so the server sees the same parameters either way.
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


class JsonBodySession(AiohttpSession):
    """AiohttpSession that posts JSON (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("json_loads", _loads)
        super().__init__(**kwargs)

    def json_body(self, bot: Bot, method: TelegramMethod[TelegramType]) -> bytes | None:
        """The request body, or None when the request carries a file (then it stays a form)."""
        files: dict[str, Any] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            value = self.prepare_value(value, bot=bot, files=files, _dumps_json=False)
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
        response = self.check_response(bot=bot, method=method, status_code=status, content=raw_result)
        return cast(TelegramType, response.result)

    async def post_json(self, bot: Bot, method_name: str, body: bytes, timeout: Any) -> tuple[int, str]:
        """One HTTP round trip: the status and the body of the Bot API server's answer."""
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method_name)
        async with session.post(url, data=body, headers=JSON_HEADERS, timeout=timeout) as resp:
            return resp.status, await resp.text()
