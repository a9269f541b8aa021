"""Webhook mode under load: Telegram hears 200 only once the update is handled, and work in
flight is bounded (issue 10, item 2)."""

from __future__ import annotations

import asyncio
import socket

import aiohttp
from aiohttp import web

from bot.app import create_app, create_bot
from bot.runtime import create_webhook_app
from sandbox.client import SandboxUser

SECRET = "load-secret"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _update(update_id: int, user: SandboxUser) -> dict:  # type: ignore[type-arg]
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
        "from": {"id": user.id, "is_bot": False, "first_name": user.first_name}, "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}}


async def test_the_webhook_answers_after_handling_and_refuses_beyond_its_bound(bot_settings, client, sandbox) -> None:  # type: ignore[no-untyped-def]
    app = create_app(bot_settings)
    bot = create_bot(bot_settings)
    port = _free_port()
    runner = web.AppRunner(create_webhook_app(bot, app.dispatcher, SECRET, "/hook", limit=2))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    users = [SandboxUser(9800 + i, f"Hook{i}") for i in range(3)]
    for user in users:
        await client.register(user)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    sandbox.api_latency = 0.5
    try:
        async with aiohttp.ClientSession() as http:
            async def post(update: dict) -> int:  # type: ignore[type-arg]
                async with http.post(f"http://127.0.0.1:{port}/hook", json=update, headers=headers) as response:
                    return response.status

            first = asyncio.create_task(post(_update(1, users[0])))
            second = asyncio.create_task(post(_update(2, users[1])))
            await asyncio.sleep(0.2)
            assert await post(_update(3, users[2])) == 503, "a third update while two are in flight is refused"
            assert await first == 200 and await second == 200
            # By the time Telegram hears 200, the member has the answer.
            assert (await client.transcript(users[0].id)) and (await client.transcript(users[1].id))
            assert not await client.transcript(users[2].id)
            sandbox.api_latency = 0.0
            assert await post(_update(3, users[2])) == 200, "sent again later, it is served"
            assert await client.transcript(users[2].id)
    finally:
        sandbox.api_latency = 0.0
        await runner.cleanup()
        await bot.session.close()
        await app.close()
