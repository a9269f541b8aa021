"""Tests of the Telegram Bot API sandbox, driven by a real aiogram Bot and raw HTTP."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.methods import SendDocument
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from sandbox import SandboxClient, SandboxClientError, SandboxServer, SandboxUser
from bot.telegram_format import parse_formatted
from sandbox.terminal import run_terminal

TOKEN = "123456:SANDBOX"
ALICE = SandboxUser(1001, "Alice", username="alice", language_code="tr")
BOB = SandboxUser(1002, "Bob", language_code="kk")


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def sandbox() -> AsyncIterator[SandboxServer]:
    srv = SandboxServer(TOKEN)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest.fixture
def server(sandbox: SandboxServer) -> SandboxServer:
    """The shared sandbox, emptied for each test (one server keeps the suite fast)."""
    sandbox.reset()
    return sandbox


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def bot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(sandbox.base_url))
    instance = Bot(TOKEN, session=session)
    try:
        yield instance
    finally:
        await instance.session.close()


@pytest_asyncio.fixture(loop_scope="session")
async def client(server: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(server.base_url, settle=0.15, timeout=3) as instance:
        yield instance


async def raw_call(server: SandboxServer, method: str, token: str = TOKEN, **params: Any) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.base_url}/bot{token}/{method}", json=params) as resp:
            return resp.status, await resp.json()


def echo_router() -> Router:
    """A tiny bot: /start shows an inline keyboard, buttons edit the message."""
    router = Router()

    @router.message(Command("start"))
    async def start(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="Yes", callback_data="answer:yes"),
            InlineKeyboardButton(text="No", callback_data="answer:no"),
        ]])
        await message.answer("<b>Hello</b>, are you in?", reply_markup=keyboard, parse_mode="HTML")

    @router.message(F.location)
    async def location(message: Message) -> None:
        assert message.location is not None
        await message.answer(f"You are at {message.location.latitude:.2f}")

    @router.message(F.text == "Menu")
    async def menu(message: Message) -> None:
        await message.answer("Menu opened", reply_markup=ReplyKeyboardRemove())

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    @router.callback_query(F.data.startswith("answer:"))
    async def answer(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message) and query.data is not None
        choice = query.data.split(":", 1)[1]
        await query.answer(f"chose {choice}")
        await query.message.edit_text(f"You said {choice}")

    @router.callback_query()
    async def unknown(query: CallbackQuery) -> None:
        await query.answer("Unknown button", show_alert=True)

    return router


@pytest_asyncio.fixture(loop_scope="session")
async def polling_bot(server: SandboxServer, bot: Bot) -> AsyncIterator[Bot]:
    dp = Dispatcher()
    dp.include_router(echo_router())
    task = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    await asyncio.sleep(0.05)
    try:
        yield bot
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, timeout=3)


# ----------------------------------------------------------------- formatting


def test_html_parser_matches_telegram_rules() -> None:
    ok = parse_formatted("<b>hi</b> &lt;3 &#x41;<i>x</i>", "HTML")
    assert ok.plain == "hi <3 Ax"
    assert ok.entities[0] == {"type": "bold", "offset": 0, "length": 2}
    emoji = parse_formatted("😀<b>x</b>", "HTML")
    assert emoji.entities == [{"type": "bold", "offset": 2, "length": 1}]  # UTF-16 offsets
    with pytest.raises(ValueError, match='Unsupported start tag "x" at byte offset 1'):
        parse_formatted("a<x>b</x>", "HTML")
    with pytest.raises(ValueError, match='start tag "b"'):
        parse_formatted("<b>open", "HTML")
    with pytest.raises(ValueError, match="Unmatched end tag"):
        parse_formatted("<b><i>x</b></i>", "HTML")
    with pytest.raises(ValueError, match="tg-spoiler"):
        parse_formatted("<span>x</span>", "HTML")
    with pytest.raises(ValueError, match="reserved"):
        parse_formatted("Hello.", "MarkdownV2")


# ----------------------------------------------------------------- Bot API basics


async def test_get_me_unauthorized_and_unknown_method(server: SandboxServer, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "kardes_sandbox_bot" and me.id == 123456
    status, body = await raw_call(server, "getMe", token="999:WRONG")
    assert status == 401 and body == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    status, body = await raw_call(server, "sendTelepathy")
    assert status == 404 and body["description"] == "Not Found"


async def test_send_message_shows_in_transcript(server: SandboxServer, bot: Bot, client: SandboxClient) -> None:
    await client.register(ALICE)
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]])
    sent = await bot.send_message(ALICE.id, "<b>Hi</b> &amp; welcome", parse_mode="HTML",
                                  reply_markup=keyboard)
    assert sent.text == "Hi & welcome" and sent.chat.type == "private"
    assert sent.from_user is not None and sent.from_user.is_bot
    assert sent.html_text == "<b>Hi</b> &amp; welcome"
    entry = await client.last_message(ALICE.id)
    assert entry is not None
    assert entry["text"] == "<b>Hi</b> &amp; welcome" and entry["plain"] == "Hi & welcome"
    assert entry["parse_mode"] == "HTML" and entry["message_id"] == sent.message_id
    assert client.buttons(entry) == [[("Go", "go")]]


async def test_limits_and_html_errors(bot: Bot, client: SandboxClient) -> None:
    await client.register(ALICE)
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await bot.send_message(ALICE.id, "1 <x> 2", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag corresponding to start tag"):
        await bot.send_message(ALICE.id, "<b>bold", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(ALICE.id, "x" * 4097)
    # The limit applies after markup is removed.
    await bot.send_message(ALICE.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(ALICE.id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(ALICE.id, "hi", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="long", callback_data="d" * 65)]]))
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hi")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(ALICE.id, BufferedInputFile(b"x", "a.txt"), caption="c" * 1025)


async def test_edit_and_delete_rules(bot: Bot, client: SandboxClient) -> None:
    await client.register(ALICE)
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A", callback_data="a")]])
    sent = await bot.send_message(ALICE.id, "one", reply_markup=keyboard)
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("one", chat_id=ALICE.id, message_id=sent.message_id, reply_markup=keyboard)
    # Same text without reply_markup is a modification: Telegram drops the keyboard.
    edited = await bot.edit_message_text("one", chat_id=ALICE.id, message_id=sent.message_id)
    assert isinstance(edited, Message) and edited.reply_markup is None
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=ALICE.id, message_id=9999)
    assert await bot.delete_message(ALICE.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ALICE.id, sent.message_id)
    entry = (await client.transcript(ALICE.id))[-1]
    assert entry["edited"] and entry["deleted"] and entry["edits"][0]["reply_markup"] is not None


async def test_failure_injection_and_stats(bot: Bot, client: SandboxClient) -> None:
    await client.register(ALICE)
    await client.set_failure(ALICE.id, "blocked")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ALICE.id, "hi")
    await client.clear_failure(ALICE.id)
    await client.set_failure(ALICE.id, "retry_after", count=1, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(ALICE.id, "hi")
    assert info.value.retry_after == 7
    await client.set_failure(ALICE.id, "server_error", count=1)
    with pytest.raises(TelegramServerError):
        await bot.send_message(ALICE.id, "hi")
    await bot.send_message(ALICE.id, "one")
    await bot.send_message(ALICE.id, "two")
    stats = await client.stats()
    assert stats["retry_after_429"] == 1 and stats["sent_messages"] == 2
    assert stats["per_chat_violations"] == 1 and stats["max_per_second"] == 2


async def test_global_flood_limit() -> None:
    srv = SandboxServer(TOKEN, flood_limit=3)
    await srv.start()
    try:
        srv.upsert_user(5, first_name="Flo")
        for _ in range(3):
            status, _ = await raw_call(srv, "sendMessage", chat_id=5, text="x")
            assert status == 200
        status, body = await raw_call(srv, "sendMessage", chat_id=5, text="x")
        assert status == 429 and body["parameters"]["retry_after"] >= 1
        assert body["description"].startswith("Too Many Requests: retry after ")
        assert srv.stats()["flood_429"] == 1
    finally:
        await srv.stop()


async def test_get_updates_long_polling_and_offset(server: SandboxServer, bot: Bot, client: SandboxClient) -> None:
    async def user_writes() -> None:
        await asyncio.sleep(0.1)
        async with aiohttp.ClientSession() as session:
            await session.post(f"{server.base_url}/sandbox/users/{ALICE.id}/message",
                               json={"text": "/start hello", "first_name": "Alice"})

    writer = asyncio.create_task(user_writes())
    updates = await bot.get_updates(timeout=2)
    await writer
    assert len(updates) == 1 and updates[0].message is not None
    message = updates[0].message
    assert message.text == "/start hello" and message.from_user and message.from_user.first_name == "Alice"
    assert message.entities and message.entities[0].type == "bot_command" and message.entities[0].length == 6
    again = await bot.get_updates(timeout=0)
    assert [u.update_id for u in again] == [updates[0].update_id]  # not confirmed yet
    assert await bot.get_updates(offset=updates[0].update_id + 1, timeout=0) == []


async def test_webhook_delivery_secret_and_conflict(server: SandboxServer, bot: Bot) -> None:
    received: list[tuple[dict, str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        # Reply into the webhook, as aiogram can.
        update = received[-1][0]
        return web.json_response({"method": "sendMessage", "chat_id": update["message"]["chat"]["id"],
                                  "text": "via webhook"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(TelegramConflictError, match="webhook is active"):
            await bot.get_updates()
        server.user_text(BOB.id, "ping", first_name="Bob")
        async with SandboxClient(server.base_url) as client:
            entries = await client.wait_for(BOB.id, lambda e: bool(e), timeout=3)
        assert received[0][1] == "s3cret" and received[0][0]["message"]["text"] == "ping"
        assert entries[0]["plain"] == "via webhook"
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert await bot.delete_webhook()
    finally:
        await runner.cleanup()


async def test_aiogram_webhook_reply_multipart(server: SandboxServer, bot: Bot, client: SandboxClient) -> None:
    """aiogram's SimpleRequestHandler answers into the webhook with multipart/form-data."""
    dp = Dispatcher()

    @dp.message()
    async def reply(message: Message) -> SendDocument:
        return SendDocument(chat_id=message.chat.id, document=BufferedInputFile(b"abc", "a.txt"),
                            caption=f"<b>re</b>: {message.text}", parse_mode="HTML")

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="tok", handle_in_background=False).register(app, path="/wh")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/wh", secret_token="tok")
        actions = await client.send(ALICE, "hello")
        assert actions[0]["plain"] == "re: hello"
        assert await client.document(actions[0]) == b"abc"
        await bot.set_webhook(f"http://127.0.0.1:{port}/wh", secret_token="wrong")
        assert await client.send(ALICE, "rejected", timeout=0.5) == []
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 1 and info.last_error_message
        await bot.delete_webhook(drop_pending_updates=True)
    finally:
        await runner.cleanup()


async def test_send_document_and_photo_keep_bytes(bot: Bot, client: SandboxClient, server: SandboxServer) -> None:
    await client.register(ALICE)
    payload = json.dumps({"events": [1, 2, 3]}).encode()
    sent = await bot.send_document(ALICE.id, BufferedInputFile(payload, "export.json"), caption="<i>data</i>",
                                   parse_mode="HTML")
    assert sent.document is not None and sent.document.file_name == "export.json"
    entry = await client.last_message(ALICE.id)
    assert entry is not None and entry["kind"] == "document" and entry["plain"] == "data"
    assert await client.document(entry) == payload
    # Download through the regular Bot API file endpoint.
    buffer = io.BytesIO()
    await bot.download(sent.document.file_id, destination=buffer)
    assert buffer.getvalue() == payload
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (3).to_bytes(4, "big") + (2).to_bytes(4, "big") + b"\0" * 9
    photo = await bot.send_photo(ALICE.id, BufferedInputFile(png, "p.png"), caption="pic")
    assert photo.photo and photo.photo[-1].width == 3
    with pytest.raises(TelegramBadRequest, match="IMAGE_PROCESS_FAILED"):
        await bot.send_photo(ALICE.id, BufferedInputFile(b"not an image", "p.png"))
    with pytest.raises(TelegramBadRequest, match="type of file mismatch"):
        await bot.send_photo(ALICE.id, sent.document.file_id)


async def test_commands_per_language_and_scope(bot: Bot, client: SandboxClient) -> None:
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands([BotCommand(command="start", description="Бастау")], language_code="kk")
    await bot.set_my_commands([BotCommand(command="help", description="Yardım")],
                              scope=BotCommandScopeAllPrivateChats(), language_code="tr")
    assert [c.description for c in await bot.get_my_commands(language_code="kk")] == ["Бастау"]
    assert [c.description for c in await bot.get_my_commands()] == ["Start"]
    assert await bot.get_my_commands(language_code="de") == []
    assert [c["command"] for c in await client.commands(ALICE)] == ["help"]
    assert [c["description"] for c in await client.commands(BOB)] == ["Бастау"]
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad Command", description="x")])
    assert await bot.delete_my_commands(language_code="kk")
    assert await bot.get_my_commands(language_code="kk") == []


async def test_dispatcher_bot_answers_send_and_press(polling_bot: Bot, client: SandboxClient) -> None:
    actions = await client.send(ALICE, "/start")
    assert [a["action"] for a in actions] == ["send"]
    assert actions[0]["plain"] == "Hello, are you in?" and actions[0]["text"] == "<b>Hello</b>, are you in?"
    actions = await client.press(ALICE, "Yes")
    kinds = {a["action"] for a in actions}
    assert kinds == {"callback_answer", "edit"}
    answer = next(a for a in actions if a["action"] == "callback_answer")
    assert answer["text"] == "chose yes" and not answer["show_alert"]
    edit = next(a for a in actions if a["action"] == "edit")
    assert edit["plain"] == "You said yes" and edit["reply_markup"] is None
    # The keyboard is gone now: a real client cannot press it any more ...
    with pytest.raises(SandboxClientError):
        await client.press(ALICE, "No")
    # ... but a modified client can forge callback data.
    forged = await client.forge_callback(ALICE, edit["message_id"], "admin:drop_tables")
    assert forged[0]["action"] == "callback_answer" and forged[0]["show_alert"]
    located = await client.share_location(ALICE, 43.25, 76.9)
    assert located[0]["plain"] == "You are at 43.25"
    assert (await client.stats())["unanswered_callback_queries"] == 0


async def test_reply_keyboard_press_and_silence(polling_bot: Bot, client: SandboxClient) -> None:
    await client.register(BOB)
    keyboard = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Menu"),
                                              KeyboardButton(text="Where am I", request_location=True)]])
    sent = await polling_bot.send_message(BOB.id, "Pick", reply_markup=keyboard)
    assert sent.reply_markup is None  # Telegram does not echo reply keyboards
    with pytest.raises(SandboxClientError, match="share_location"):
        await client.press(BOB, "Where am I")
    actions = await client.press(BOB, "Menu")
    assert actions[0]["plain"] == "Menu opened"
    assert await client.reply_keyboard(BOB.id) is None
    await client.set_failure(BOB.id, "server_error")  # the bot's answers now fail: it says nothing
    assert await client.send(BOB, "anyone?", timeout=0.5) == []


async def test_run_terminal_script(polling_bot: Bot, client: SandboxClient) -> None:
    out = io.StringIO()
    await run_terminal(client, lines=["# greet", "/start", "", "1", "/loc 43.25 76.9", "/quit", "never"],
                       out=out, user_id=3003)
    text = out.getvalue()
    assert "> /start" in text and "# greet" not in text and "never" not in text
    assert "bot: Hello, are you in?" in text and "[1] Yes  [2] No" in text
    assert "[toast] chose yes" in text and "bot: (edited) You said yes" in text
    assert "bot: You are at 43.25" in text
