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
