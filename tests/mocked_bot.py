"""A Bot whose session records every request instead of sending it (aiogram's MockedBot pattern),
and a small chat driver on top of it: unit tests of single handlers through the real dispatcher
(middlewares, filters, FSM in the test database), without a Bot API server.

The session answers what a Bot API server would: a message for every send or edit, `True` for
the rest; each answer goes through aiogram's own `check_response`, so a request the bot could not
parse back fails the test here as it would in production. As in production (bot/app.create_bot),
the update's transaction is committed before every request (bot/transaction.CommitBeforeRequest).
A test can look at the database at the moment of a request, or make the request fail (`probes`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.types import Update

from bot.app import App, create_app
from bot.transaction import CommitBeforeRequest
from tests.conftest import test_settings

MESSAGE_METHODS = {"SendMessage", "SendPhoto", "SendDocument", "SendLocation", "SendVenue",
                   "EditMessageText", "EditMessageReplyMarkup", "EditMessageCaption"}


@dataclass
class Request:
    """One Bot API call the bot made."""

    method: str
    params: dict[str, Any]
    result: Any = None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")

    @property
    def buttons(self) -> list[str]:
        markup = self.params.get("reply_markup") or {}
        return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


class RecordingSession(BaseSession):
    """Records requests; answers sends and edits with a message, everything else with True."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Request] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # (chat, message_id) -> the message as shown now
        # Awaited with each request before it is answered (after the commit); one that raises fails the request.
        self.probes: list[Callable[[Request], Awaitable[None]]] = []
        self._ids = itertools.count(1)

    async def close(self) -> None:
        pass

    async def stream_content(self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
                             chunk_size: int = 65536, raise_for_status: bool = True) -> AsyncGenerator[bytes, None]:
        yield b""

    async def make_request(self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None) -> Any:
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():  # what the aiohttp session would send
            prepared = self.prepare_value(value, bot=bot, files={}, _dumps_json=False)
            if prepared is not None and prepared != "":
                params[key] = prepared
        name = type(method).__name__
        request = Request(name, params)
        for probe in self.probes:
            await probe(request)
        result: Any = True
        if name in MESSAGE_METHODS:
            result = self._message_for(name, params)
        self.requests.append(request)
        response = self.check_response(bot, method, 200, json.dumps({"ok": True, "result": result}))
        request.result = response.result
        return response.result

    def _message_for(self, name: str, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params.get("chat_id") or 0)
        if name.startswith("Edit"):
            message = dict(self.messages.get((chat_id, int(params.get("message_id") or 0)), {}))
            message.setdefault("message_id", int(params.get("message_id") or 0))
        else:
            message = {"message_id": next(self._ids)}
        message.update({"date": 0, "chat": {"id": chat_id, "type": "private"}})
        if "text" in params:
            message["text"] = params["text"]
        if "caption" in params:
            message["caption"] = params["caption"]
        if name == "SendPhoto":
            message["photo"] = [{"file_id": "photo", "file_unique_id": "photo", "width": 1, "height": 1}]
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        elif name.startswith("Edit"):
            message.pop("reply_markup", None)  # an edit without a keyboard drops it, as on Telegram
        self.messages[(chat_id, message["message_id"])] = message
        return message


@pytest.fixture
async def mocked_app(database_url: str, session_factory: Any) -> AsyncIterator[App]:
    """The bot's app (dispatcher, middlewares, routers) on the test database; no Bot API server.
    A test module takes it with `from tests.mocked_bot import mocked_app`."""
    app = create_app(test_settings(database_url, "http://127.0.0.1:9", "42:TEST"))
    yield app
    await app.close()


def recording_bot() -> tuple[Bot, RecordingSession]:
    session = RecordingSession()
    session.middleware(CommitBeforeRequest())
    return Bot("42:TEST", session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)), session


@dataclass
class Chat:
    """One user's private chat with a dispatcher over a recording bot."""

    dispatcher: Dispatcher
    bot: Bot
    session: RecordingSession
    user_id: int
    language_code: str = "en"
    _updates: itertools.count = field(default_factory=lambda: itertools.count(1))  # type: ignore[type-arg]
    _inbound: itertools.count = field(default_factory=lambda: itertools.count(100_000))  # type: ignore[type-arg]

    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": "Tester", "language_code": self.language_code}

    async def _feed(self, payload: dict[str, Any]) -> list[Request]:
        before = len(self.session.requests)
        update = Update.model_validate({"update_id": next(self._updates), **payload}, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)
        return self.session.requests[before:]

    async def send(self, text: str) -> list[Request]:
        """The user sends `text`; returns the requests the bot made while handling it."""
        return await self._feed({"message": {"message_id": next(self._inbound), "date": 0, "text": text,
                                             "chat": {"id": self.user_id, "type": "private"}, "from": self._user()}})

    async def send_photo(self) -> list[Request]:
        return await self._feed({"message": {
            "message_id": next(self._inbound), "date": 0, "chat": {"id": self.user_id, "type": "private"}, "from": self._user(),
            "photo": [{"file_id": "AgACPhoto", "file_unique_id": "u1", "width": 90, "height": 90}]}})

    def newest_with(self, label: str) -> dict[str, Any]:
        for (chat, _id), message in sorted(self.session.messages.items(), key=lambda item: -item[0][1]):
            if chat == self.user_id:
                for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
                    if any(b.get("text") == label for b in row):
                        return message
        raise AssertionError(f"no message in chat {self.user_id} has a button {label!r}")

    async def press(self, label: str) -> list[Request]:
        """Press the inline button `label` on the newest message that shows it."""
        message = self.newest_with(label)
        data = next(b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row if b.get("text") == label)
        return await self.press_data(message, data)

    async def press_data(self, message: dict[str, Any], data: str) -> list[Request]:
        """A callback with any `data` on `message`, as a modified client can send."""
        return await self._feed({"callback_query": {"id": str(next(self._inbound)), "from": self._user(), "chat_instance": "1",
                                                    "data": data, "message": message}})


def texts(requests: list[Request]) -> list[str]:
    """Texts of the messages sent or edited (what the user reads, with its HTML)."""
    return [r.text for r in requests if r.method in MESSAGE_METHODS and r.text]


def answers(requests: list[Request]) -> list[str | None]:
    """Callback answers' texts (None for a silent answer)."""
    return [r.params.get("text") for r in requests if r.method == "AnswerCallbackQuery"]
