"""The cheaper hot path changes nothing a member or Telegram sees (issue 10, item 6): the JSON
request bodies carry the same parameters as aiogram's forms, keyboards come out the same, and
the SQLite driver keeps SQLite's answers, errors and transactions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from urllib.parse import parse_qsl

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ParseMode
from aiogram.methods import EditMessageText, SendMessage, SetMyCommands
from aiogram.types import BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from bot.api_session import JsonBodySession
from bot.app import cheaper_keyboard_builder
from db.models import Member
from db.session import create_engine, create_session_factory

BOT = Bot("42:TEST", default=DefaultBotProperties(parse_mode=ParseMode.HTML))

METHODS = [
    SendMessage(chat_id=7, text="<b>Hi</b> — ü", reply_markup=InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text="Go", callback_data="rsvp:1:g")]]),
        reply_parameters=ReplyParameters(message_id=3, allow_sending_without_reply=True), disable_notification=False),
    EditMessageText(chat_id=7, message_id=9, text="", reply_markup=None),
    SetMyCommands(commands=[BotCommand(command="help", description="Yardım")], scope=BotCommandScopeChat(chat_id=7)),
    SendMessage(chat_id=-100, text="x", message_thread_id=0, entities=[]),
]


def _form(method) -> dict:  # type: ignore[no-untyped-def]
    """What aiogram's own session would post, field by field, with its JSON fields decoded."""
    form = AiohttpSession().build_form_data(BOT, method)
    fields = dict(parse_qsl(form().decode(), keep_blank_values=True))
    decoded = {}
    for key, value in fields.items():
        try:
            decoded[key] = json.loads(value)
        except ValueError:
            decoded[key] = value
    return decoded


@pytest.mark.parametrize("method", METHODS, ids=lambda m: type(m).__name__)
def test_a_json_request_carries_what_aiogram_would_post_as_a_form(method) -> None:  # type: ignore[no-untyped-def]
    body = JsonBodySession().json_body(BOT, method)
    assert body is not None
    sent = json.loads(body)
    form = _form(method)
    # The form sends numbers and booleans as text; JSON keeps their type. Same fields, same values.
    assert sent.keys() == form.keys()
    for key, value in sent.items():
        assert value == form[key] or str(value).lower() == str(form[key]).lower(), key
    if isinstance(method, SendMessage) and method.chat_id == 7:
        assert sent["parse_mode"] == "HTML", "the bot's default parse mode is applied"


def test_keyboards_come_out_the_same_without_copying_every_button_each_time() -> None:
    def build() -> InlineKeyboardMarkup:
        builder = InlineKeyboardBuilder()
        for number in range(1, 8):
            builder.button(text=str(number), callback_data=f"c:{number}")
        builder.row(InlineKeyboardButton(text="◀", callback_data="p"), InlineKeyboardButton(text="▶", callback_data="n"))
        builder.button(text="wide", callback_data="w")
        builder.adjust(5, 2, 1)
        return builder.as_markup()

    before = build().model_dump()
    cheaper_keyboard_builder()
    cheaper_keyboard_builder()  # idempotent
    builder = InlineKeyboardBuilder()
    builder.button(text="a", callback_data="a")
    exported = builder.export()
    exported[0].append(InlineKeyboardButton(text="b", callback_data="b"))
    assert len(builder.export()[0]) == 1, "what export() hands out is still the caller's own copy"
    assert build().model_dump() == before


async def test_the_sqlite_driver_keeps_answers_errors_and_transactions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from db.migrate import upgrade
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'driver.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, pool_size=2)
    factory = create_session_factory(engine)
    try:
        async with factory() as session:
            session.add(Member(telegram_id=1, display_name="Ayşe", languages=["kk", "tr"], interests=[]))
            await session.commit()
            member = await session.scalar(select(Member).where(Member.telegram_id == 1))
            assert member.languages == ["kk", "tr"] and member.display_name == "Ayşe"
            assert isinstance(member.created_at, datetime) and member.created_at.tzinfo == timezone.utc
            session.add(Member(telegram_id=1, languages=[], interests=[]))
            with pytest.raises(IntegrityError):
                await session.commit()
            await session.rollback()
            member.display_name = "not kept"
            await session.flush()
            await session.rollback()  # a flushed, uncommitted write is undone
        async with factory() as session:
            names = (await session.execute(text("SELECT display_name FROM members ORDER BY id"))).scalars().all()
            assert names == ["Ayşe"]
            many = await session.execute(text("SELECT value FROM json_each('[1,2,3,4,5]')"))
            assert [row[0] for row in many] == [1, 2, 3, 4, 5]
    finally:
        await engine.dispose()


# --- answers read without aiogram's Response model, errors as before -----------------------------

SENT = {"message_id": 5, "date": 1_700_000_000, "chat": {"id": 7, "type": "private"},
        "from": {"id": 42, "is_bot": True, "first_name": "Kardeş"}, "text": "Hi"}


def test_a_successful_answer_is_the_same_object_aiogram_would_build() -> None:
    from aiogram.types import Message

    session = JsonBodySession()
    method = SendMessage(chat_id=7, text="Hi")
    content = json.dumps({"ok": True, "result": SENT})
    ours = session.result_of(BOT, method, 200, content)
    theirs = session.check_response(bot=BOT, method=method, status_code=200, content=content).result
    assert isinstance(ours, Message) and ours == theirs
    assert ours.bot is BOT, "the message is bound to the bot, so message.answer() works on it"
    assert session.result_of(BOT, SetMyCommands(commands=[]), 200, '{"ok":true,"result":true}') is True


@pytest.mark.parametrize(("status", "answer", "error"), [
    (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
           "parameters": {"retry_after": 7}}, "TelegramRetryAfter"),
    (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}, "TelegramForbiddenError"),
    (400, {"ok": False, "error_code": 400, "description": "Bad Request: message is not modified"}, "TelegramBadRequest"),
    (200, {"ok": True, "result": {"message_id": "not a number"}}, "ClientDecodeError"),
    (502, "<html>Bad Gateway</html>", "ClientDecodeError"),
])
def test_error_answers_still_raise_aiogram_s_exceptions(status, answer, error) -> None:  # type: ignore[no-untyped-def]
    from aiogram import exceptions

    session = JsonBodySession()
    content = answer if isinstance(answer, str) else json.dumps(answer)
    with pytest.raises(getattr(exceptions, error)) as raised:
        session.result_of(BOT, SendMessage(chat_id=7, text="Hi"), status, content)
    if error == "TelegramRetryAfter":
        assert raised.value.retry_after == 7


# --- routers passed over only where nothing could match ---------------------------------------------

def test_every_command_and_button_still_reaches_its_router(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """For each handler limited to commands or a button prefix, an update it takes is not passed
    over by its router or any router above it; an update nobody limited takes reaches the open ones."""
    from aiogram.filters import Command
    from aiogram.filters.callback_data import CallbackQueryFilter
    from aiogram.types import CallbackQuery, Chat, Message, User

    from bot.app import create_dispatcher
    from bot.config import Settings
    from bot.i18n import create_i18n
    from bot.routing import _may_take

    settings = Settings(bot_token="1:x", database_url=f"sqlite+aiosqlite:///{tmp_path / 'r.sqlite3'}")
    engine = create_engine(settings.database_url)
    dp = create_dispatcher(settings, create_session_factory(engine), create_i18n("en"))
    user, chat = User(id=5, is_bot=False, first_name="A"), Chat(id=5, type="private")

    def passed_over(router, update_type, event) -> bool:  # type: ignore[no-untyped-def]
        while router is not None and router is not dp:
            by_type = getattr(router.propagate_event, "__closure__", None)
            if hasattr(router.propagate_event, "_original"):
                keys = dict(zip(router.propagate_event.__code__.co_freevars, by_type))["by_type"].cell_contents
                if update_type in keys and not _may_take(update_type, event, keys[update_type]):
                    return True
            router = router.parent_router
        return False

    checked = 0
    for router in dp.chain_tail:
        for handler in router.message.handlers:
            for item in handler.filters or ():
                if isinstance(item.callback, Command):
                    for command in item.callback.commands:
                        if isinstance(command, str):
                            for command_text in (f"/{command}", f"/{command}@kardes_bot and more", f"  /{command.upper()} x"):
                                event = Message(message_id=1, date=datetime.now(timezone.utc), chat=chat, from_user=user, text=command_text)
                                assert not passed_over(router, "message", event), (router.name, command_text)
                                checked += 1
        for handler in router.callback_query.handlers:
            for item in handler.filters or ():
                if isinstance(item.callback, CallbackQueryFilter):
                    data = item.callback.callback_data
                    event = CallbackQuery(id="1", from_user=user, chat_instance="1",
                                          data=f"{data.__prefix__}{data.__separator__}x{data.__separator__}y")
                    assert not passed_over(router, "callback_query", event), (router.name, data.__prefix__)
                    checked += 1
    assert checked > 60
    free_text = Message(message_id=1, date=datetime.now(timezone.utc), chat=chat, from_user=user, text="Almaty")
    registration = next(r for r in dp.chain_tail if r.name == "registration")
    assert not passed_over(registration, "message", free_text), "a form that takes free text is still asked"
    common = next(r for r in dp.chain_tail if r.name == "common")
    assert passed_over(common, "message", free_text), "/help's router is not asked about free text"


# --- FSM state: one plain statement, before the next query or the commit ---------------------------

async def test_conversation_changes_of_one_step_are_one_write_seen_by_the_next_query(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from aiogram.fsm.storage.base import StorageKey
    from sqlalchemy import event

    from bot.fsm_storage import DatabaseStorage
    from bot.transaction import UpdateScope, current_scope
    from db.migrate import upgrade
    from db.models import FsmRecord

    url = f"sqlite+aiosqlite:///{tmp_path / 'fsm.sqlite3'}"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url, pool_size=2)
    factory = create_session_factory(engine)
    storage = DatabaseStorage(factory)
    key = StorageKey(bot_id=1, chat_id=9, user_id=9)
    writes: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_a: writes.append(statement) if statement.startswith(("INSERT", "UPDATE")) else None)
    try:
        async with factory() as session:  # as inside an update
            token = current_scope.set(UpdateScope(session))
            try:
                await storage.set_state(key, "Registration:language")
                await storage.update_data(key, {"locale": "kk"})
                assert writes == [], "nothing is written before it has to be"
                seen = await session.scalar(select(FsmRecord.state).where(FsmRecord.key.like("%:9:9:%")))
                assert seen == "Registration:language" and len(writes) == 1, "one write, ahead of the query"
                await storage.update_data(key, {"menu_id": 3})
                await session.commit()
                assert len(writes) == 2 and writes[1].startswith("UPDATE")
                await storage.set_state(key, "Registration:consent")
                await session.rollback()  # the update failed: its change is dropped
                await session.commit()
            finally:
                current_scope.reset(token)
        assert await storage.get_state(key) == "Registration:language"
        assert await storage.get_data(key) == {"locale": "kk", "menu_id": 3}
        await storage.set_state(key, None)  # outside an update: its own session, committed
        assert await DatabaseStorage(factory).get_state(key) is None
    finally:
        await engine.dispose()
