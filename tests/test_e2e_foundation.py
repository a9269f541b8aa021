"""The bot end to end through the sandbox: greeting, language, help, bad input, webhook."""

from __future__ import annotations

import asyncio
import html
import re
import socket

import aiohttp
import pytest
from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.config import LOCALES
from bot.commands import COMMANDS
from bot.i18n import LANGUAGE_NAMES
from bot.runtime import create_webhook_app
from sandbox.client import SandboxUser
from tests.chat import I18N, msgid_starting, texts, tr


HELP = msgid_starting("<b>What I can do</b>")


def as_shown(html_text: str) -> str:
    """What a user sees of an HTML message: the text without tags and entities."""
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


START = "Hello! I am Kardeş, the bot of the Turkic-speaking diaspora. I will speak English with you. Tap your language to continue."


@pytest.mark.parametrize(("language_code", "locale"), [("kk-KZ", "kk"), ("tr", "tr"), ("ru-RU", "ru"), ("de", "en"), (None, "en")])
async def test_start_greets_in_the_users_telegram_language(running_bot, client, language_code, locale) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(2001, "Aigerim", language_code=language_code)
    replies = await client.send(user, "/start")
    assert texts(replies) == [tr(START, locale)]
    assert replies[-1]["reply_markup"]["inline_keyboard"], "the language choice comes with buttons"


async def test_language_switches_at_once_in_all_eight(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(2002, "Nurlan", language_code="en")
    for locale in LOCALES:
        await client.send(user, "/language")
        replies = await client.press(user, LANGUAGE_NAMES[locale])
        assert tr("Language set: English. Send /help to see what I can do.", locale) in texts(replies)
        help_replies = await client.send(user, "/help")
        assert texts(help_replies) == [as_shown(tr(HELP, locale))]
        assert all(f"/{command}" in help_replies[-1]["plain"] for command, _ in COMMANDS), "the help names every command of the menu"


async def test_unknown_command_gets_a_translated_hint(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(2003, "Ayşe", language_code="tr")
    replies = await client.send(user, "/frobnicate")
    assert texts(replies) == [tr("I don't know that command. Send /help to see what I can do.", "tr")]


async def test_forged_language_button_changes_nothing(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(2004, "Timur", language_code="ru")
    sent = await client.send(user, "/language")
    replies = await client.forge_callback(user, sent[-1]["message_id"], "lang:xx")
    answers = [a for a in replies if a["type"] == "callback_answer"]
    assert answers and answers[0]["show_alert"]
    assert texts(await client.send(user, "/help")) == [as_shown(tr(HELP, "ru"))]


async def test_command_menu_is_registered_per_language(bot_settings, client) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_bot
    from bot.commands import register_commands

    bot = create_bot(bot_settings)
    try:
        await register_commands(bot, I18N, "en")
    finally:
        await bot.session.close()
    kazakh = await client.commands(SandboxUser(2005, "Dana", language_code="kk"))
    german = await client.commands(SandboxUser(2006, "Jan", language_code="de"))
    assert {c["command"] for c in kazakh} >= {"start", "help", "language"}
    assert next(c for c in kazakh if c["command"] == "language")["description"] == tr("Change the language", "kk")
    assert next(c for c in german if c["command"] == "language")["description"] == "Change the language"


async def test_a_failing_handler_is_answered_with_an_apology_and_the_bot_keeps_serving(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    broken = Router(name="broken-for-test")

    @broken.message(Command("boom"))
    async def boom(message: Message) -> None:
        raise RuntimeError("a bug")

    dispatcher = running_bot.app.dispatcher
    broken._parent_router = dispatcher  # first in line, ahead of the fallback
    dispatcher.sub_routers.insert(0, broken)
    user = SandboxUser(2007, "Aziz", language_code="uz")
    replies = await client.send(user, "/boom")
    assert texts(replies) == [tr("Sorry, something went wrong on our side. Please try again in a moment.", "uz")]
    assert texts(await client.send(user, "/frobnicate")) == [tr("I don't know that command. Send /help to see what I can do.", "uz")]


async def test_a_flood_is_throttled(bot_settings, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    from tests.harness import RunningBot

    slow = bot_settings.model_copy(update={"throttle_rate": 0.5, "throttle_burst": 3})
    bot = await RunningBot(slow).start()
    try:
        user = SandboxUser(2008, "Ali", language_code="en")
        for _ in range(6):
            await client.send(user, "/frobnicate", settle=0.0, timeout=0.01)
        assert await client.idle()
        said = texts(await client.transcript(user.id))
        assert said.count("I don't know that command. Send /help to see what I can do.") == 3
        assert said.count("You are sending messages too fast. Please wait a moment.") == 1
    finally:
        await bot.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_webhook_mode_checks_the_secret_and_serves_updates(bot_settings, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_app, create_bot

    app = create_app(bot_settings)
    bot = create_bot(bot_settings)
    port = _free_port()
    web_app = create_webhook_app(bot, app.dispatcher, "s3cret-token", "/webhook")
    runner = aiohttp.web.AppRunner(web_app)
    await runner.setup()
    await aiohttp.web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        await bot.set_webhook(f"{url}/webhook", secret_token="s3cret-token")
        user = SandboxUser(2009, "Gulnara", language_code="ky")
        replies = await client.send(user, "/frobnicate")
        assert texts(replies) == [tr("I don't know that command. Send /help to see what I can do.", "ky")]
        update = {"update_id": 99, "message": {"message_id": 1, "date": 0, "chat": {"id": 2009, "type": "private"},
                                                "from": {"id": 2009, "is_bot": False, "first_name": "X"}, "text": "/help"}}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(f"{url}/webhook", json=update, headers=headers) as response:
                    assert response.status == 401
            async with http.get(f"{url}/healthz") as response:
                assert response.status == 200
            # A malformed update (no chat in the message) is skipped, not fatal.
            bad = {"update_id": 100, "message": {"message_id": 2, "text": "hi"}}
            async with http.post(f"{url}/webhook", json=bad, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}) as response:
                assert response.status == 200
        await asyncio.sleep(0.5)
        assert len(texts(await client.transcript(2009))) == 1, "the forged and malformed requests changed nothing"
        assert texts(await client.send(user, "/frobnicate"))
    finally:
        await bot.delete_webhook()
        await runner.cleanup()
        await bot.session.close()
        await app.close()


async def test_a_malformed_update_is_skipped_and_the_bot_keeps_polling(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(2010, "Zarina", language_code="kk")
    await client.register(user)
    said = await client.inject("message", {"message_id": 5, "text": "no chat, no date"}, user.id, timeout=1.5)
    assert said == []
    assert texts(await client.send(user, "/frobnicate")) == [tr("I don't know that command. Send /help to see what I can do.", "kk")]
