"""The sandbox's forum topics, Telegram's 20-a-minute group limit and inline mode, driven by a real aiogram Bot."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter

from sandbox.client import SandboxChat, SandboxClientError, SandboxUser

OWNER = SandboxUser(7601, "Owner")


@pytest.fixture
async def raw_bot(sandbox):  # type: ignore[no-untyped-def]
    bot = Bot(sandbox.token, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.base_url)))
    yield bot
    await bot.session.close()


async def test_the_twenty_first_message_in_a_minute_to_a_group_gets_429_but_private_chats_do_not(client, raw_bot) -> None:  # type: ignore[no-untyped-def]
    group = SandboxChat(-1003000000001, "supergroup", "Busy group")
    await client.create_chat(group, creator=OWNER)
    await client.add_bot(group, by=OWNER, admin=True)
    for number in range(20):
        await raw_bot.send_message(group.id, f"card {number}")
    with pytest.raises(TelegramRetryAfter) as flood:
        await raw_bot.send_message(group.id, "one too many")
    assert 1 <= flood.value.retry_after <= 60
    await client.register(OWNER)
    for number in range(21):
        await raw_bot.send_message(OWNER.id, f"private {number}")
    assert (await client.stats())["group_429"] == 1


async def test_forum_topics_and_message_threads(client, raw_bot) -> None:  # type: ignore[no-untyped-def]
    forum = SandboxChat(-1003000000002, "supergroup", "Forum", is_forum=True)
    await client.create_chat(forum, creator=OWNER)
    await client.add_bot(forum, by=OWNER, admin=True)
    topic = await client.create_topic(forum, "Events", by=OWNER)
    sent = await raw_bot.send_message(forum.id, "in the topic", message_thread_id=topic)
    assert sent.message_thread_id == topic and sent.is_topic_message and sent.chat.is_forum
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await raw_bot.send_message(forum.id, "nowhere", message_thread_id=topic + 1000)
    with pytest.raises(SandboxClientError):
        await client.create_topic(SandboxChat(-1003000000003, "supergroup"), "x", by=OWNER)


async def test_inline_queries_need_inline_mode_and_answers_are_checked(client, raw_bot, sandbox) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SandboxClientError, match="inline mode is off"):
        await client.inline_query(OWNER, "berlin")
    await client.set_inline_mode(True)
    created = sandbox.user_inline_query(OWNER.id, "berlin")
    with pytest.raises(TelegramBadRequest, match="RESULT_ID_DUPLICATE"):
        await raw_bot.answer_inline_query(created["inline_query_id"], [
            {"type": "article", "id": "a", "title": "A", "input_message_content": {"message_text": "a"}},
            {"type": "article", "id": "a", "title": "B", "input_message_content": {"message_text": "b"}}])  # type: ignore[list-item]
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await raw_bot.answer_inline_query("12345", [])
