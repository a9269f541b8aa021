"""The sandbox's groups, supergroups and channels, driven by a real aiogram Bot."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatMemberStatus
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command
from aiogram.types import CallbackQuery, ChatMemberAdministrator, ChatMemberUpdated, InlineKeyboardButton, InlineKeyboardMarkup, Message

from sandbox import SandboxChat, SandboxClient, SandboxClientError, SandboxServer, SandboxUser

TOKEN = "123456:SANDBOX"
ALICE = SandboxUser(1001, "Alice", language_code="tr")
BOB = SandboxUser(1002, "Bob", language_code="kk")
GROUP = SandboxChat(-1001000000001, "supergroup", "Berlin Kazakhs")
CHANNEL = SandboxChat(-1001000000002, "channel", "Kardeş news", username="kardes_news")


@pytest_asyncio.fixture(loop_scope="session", scope="session")
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = SandboxServer(TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    sandbox.reset()
    async with SandboxClient(sandbox.base_url, settle=0.15, timeout=3) as instance:
        yield instance


class Seen:
    def __init__(self) -> None:
        self.memberships: list[ChatMemberUpdated] = []
        self.messages: list[Message] = []
        self.posts: list[Message] = []


@pytest_asyncio.fixture(loop_scope="session")
async def bot(sandbox: SandboxServer, client: SandboxClient) -> AsyncIterator[tuple[Bot, Seen]]:
    seen = Seen()
    router = Router()

    @router.my_chat_member()
    async def membership(update: ChatMemberUpdated) -> None:
        seen.memberships.append(update)

    @router.message(Command("hello"))
    async def hello(message: Message) -> None:
        seen.messages.append(message)
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Wave", callback_data="wave")]])
        await message.answer(f"Hello, {message.chat.type}", reply_markup=keyboard)

    @router.message()
    async def anything(message: Message) -> None:
        seen.messages.append(message)
        await message.answer(f"got {message.text or 'a service message'}")

    @router.channel_post()
    async def post(message: Message) -> None:
        seen.posts.append(message)

    @router.callback_query(F.data == "wave")
    async def wave(query: CallbackQuery) -> None:
        await query.answer(f"{query.from_user.first_name} waved")

    dp = Dispatcher()
    dp.include_router(router)
    instance = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.base_url)))
    task = asyncio.create_task(dp.start_polling(instance, handle_signals=False, polling_timeout=1,
                                                allowed_updates=dp.resolve_used_update_types()))
    await asyncio.sleep(0.05)
    try:
        yield instance, seen
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, timeout=3)
        await instance.session.close()


async def test_adding_and_promoting_the_bot_sends_my_chat_member_updates(bot, client) -> None:  # type: ignore[no-untyped-def]
    instance, seen = bot
    await client.create_chat(GROUP, [ALICE, BOB], creator=ALICE)
    await client.add_bot(GROUP, by=ALICE)
    await client.set_bot_status(GROUP, "administrator", by=ALICE)
    await client.wait_for(GROUP.id, lambda entries: len(seen.memberships) >= 2)
    added, promoted = seen.memberships[:2]
    assert (added.chat.id, added.chat.type, added.chat.title) == (GROUP.id, "supergroup", "Berlin Kazakhs")
    assert added.from_user.id == ALICE.id
    assert (added.old_chat_member.status, added.new_chat_member.status) == (ChatMemberStatus.LEFT, ChatMemberStatus.MEMBER)
    assert isinstance(promoted.new_chat_member, ChatMemberAdministrator) and promoted.new_chat_member.can_delete_messages
    admins = await instance.get_chat_administrators(GROUP.id)
    assert {admin.user.id for admin in admins} == {ALICE.id, (await instance.me()).id}
    assert (await instance.get_chat_member(GROUP.id, BOB.id)).status == ChatMemberStatus.MEMBER
    assert await instance.get_chat_member_count(GROUP.id) == 3
    assert any(m.new_chat_members for m in seen.messages), "the group shows that the bot joined"


async def test_in_privacy_mode_the_bot_gets_only_commands_for_it_and_replies_to_it(bot, client) -> None:  # type: ignore[no-untyped-def]
    instance, seen = bot
    await client.create_chat(GROUP, [ALICE, BOB])
    await client.add_bot(GROUP, by=ALICE)
    assert await client.send(ALICE, "just chatting", chat=GROUP) == []
    assert await client.send(ALICE, "/hello@some_other_bot", chat=GROUP) == []
    answer = await client.send(BOB, "/hello@kardes_sandbox_bot", chat=GROUP)
    assert [a["plain"] for a in answer] == ["Hello, supergroup"]
    assert (await client.send(ALICE, "/hello", chat=GROUP))[0]["plain"] == "Hello, supergroup"
    replied = await client.send(ALICE, "thanks", chat=GROUP, reply_to_message_id=answer[0]["message_id"])
    assert [a["plain"] for a in replied] == ["got thanks"]
    # Anyone in the group can press a button of the bot's message.
    pressed = await client.press(BOB, "Wave", message_id=answer[0]["message_id"], chat=GROUP)
    assert [a["text"] for a in pressed if a["action"] == "callback_answer"] == ["Bob waved"]
    assert await client.transcript(ALICE.id) == [], "nothing went to the private chat"
    with pytest.raises(SandboxClientError):
        await client.send(SandboxUser(1003, "Stranger"), "/hello", chat=GROUP)


async def test_an_administrator_bot_gets_every_message(bot, client) -> None:  # type: ignore[no-untyped-def]
    await client.create_chat(GROUP, [ALICE])
    await client.add_bot(GROUP, by=ALICE, admin=True)
    assert [a["plain"] for a in await client.send(ALICE, "just chatting", chat=GROUP)] == ["got just chatting"]


@pytest.mark.slow
async def test_a_removed_bot_cannot_write_and_only_an_admin_posts_in_a_channel(bot, client) -> None:  # type: ignore[no-untyped-def]
    instance, seen = bot
    await client.create_chat(GROUP, [ALICE])
    with pytest.raises(TelegramForbiddenError, match="not a member of the supergroup chat"):
        await instance.send_message(GROUP.id, "hi")
    await client.add_bot(GROUP, by=ALICE)
    await instance.send_message(GROUP.id, "hi")
    await client.set_bot_status(GROUP, "kicked", by=ALICE)
    with pytest.raises(TelegramForbiddenError, match="kicked from the supergroup chat"):
        await instance.send_message(GROUP.id, "hi")

    await client.create_chat(CHANNEL, creator=ALICE)
    await client.add_bot(CHANNEL, by=ALICE)
    with pytest.raises(TelegramBadRequest, match="need administrator rights in the channel chat"):
        await instance.send_message(CHANNEL.id, "news")
    assert await client.post(CHANNEL, "/hello not for a member bot") == []
    await client.set_bot_status(CHANNEL, "administrator", by=ALICE)
    sent = await instance.send_message(CHANNEL.id, "news")
    assert sent.sender_chat is not None and sent.sender_chat.id == CHANNEL.id and sent.from_user is None
    await client.post(CHANNEL, "Nowruz on Saturday", author_signature="Alice")
    await client.wait_for(CHANNEL.id, lambda entries: bool(seen.posts))
    assert (seen.posts[0].text, seen.posts[0].chat.username, seen.posts[0].author_signature) == ("Nowruz on Saturday", "kardes_news", "Alice")


async def test_the_bot_may_delete_members_messages_only_as_an_administrator(bot, client, sandbox) -> None:  # type: ignore[no-untyped-def]
    instance, seen = bot
    await client.create_chat(GROUP, [ALICE])
    await client.add_bot(GROUP, by=ALICE)
    await client.send(ALICE, "/hello", chat=GROUP)
    command_id = (await client.inbound(GROUP.id))[-1]["message_id"]
    with pytest.raises(TelegramBadRequest, match="message can't be deleted"):
        await instance.delete_message(GROUP.id, command_id)
    await client.set_bot_status(GROUP, "administrator", by=ALICE)
    assert await instance.delete_message(GROUP.id, command_id) is True


async def test_the_terminal_chat_can_move_into_a_group_and_back(bot, client) -> None:  # type: ignore[no-untyped-def]
    import io

    from sandbox.terminal import run_terminal

    out = io.StringIO()
    await run_terminal(client, lines=["/hello", "/group Kazakhs", "/hello", "1", "/private", "/hello"], out=out, first_name="Demo")
    transcript = out.getvalue()
    assert transcript.index("bot: Hello, private") < transcript.index("bot: Hello, supergroup") < transcript.index("[toast] Demo waved")
    assert transcript.count("bot: Hello, private") == 2
