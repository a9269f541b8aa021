"""`kardes demo`: the bot, the local sandbox and sample data on SQLite, with a terminal chat."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from bot.config import Settings, load_settings
from bot.process import serve
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer
from sandbox.terminal import run_terminal

log = logging.getLogger(__name__)
DEMO_USER = 1001


async def seed_sample_data(settings: Settings) -> None:
    """Load the shipped sample organisations and events (marked as sample) into the demo database."""
    from bot.services.importer import load_sample_data
    from db.session import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    try:
        async with create_session_factory(engine)() as session:
            organisations, events = await load_sample_data(session)
            await session.commit()
        log.info("sample data: %s organisations, %s events", organisations, events)
    finally:
        await engine.dispose()


async def run_demo(settings: Settings, script: Iterable[str] | None = None) -> None:
    """Start the sandbox and the bot against it, then chat in the terminal (or run `script`)."""
    from db.migrate import upgrade

    await asyncio.to_thread(upgrade, settings.database_url)
    await seed_sample_data(settings)
    sandbox = SandboxServer()
    await sandbox.start()
    demo_settings = load_settings(
        **{
            **settings.model_dump(),
            "bot_token": sandbox.token,
            "telegram_api_base": sandbox.base_url,
            "webhook_url": None,
            "webhook_secret": None,
            # The demo's first user may try the secretariat's tools.
            "secretariat_ids": settings.secretariat_ids | {DEMO_USER},
            "http_port": None,  # the demo serves the portal itself, below
        }
    )
    stop = asyncio.Event()
    bot_task = asyncio.create_task(serve(demo_settings, stop))
    client = SandboxClient(sandbox.base_url)
    portal = await _start_portal(demo_settings, settings.http_port)
    try:
        await _wait_until_polling(sandbox, bot_task)
        await run_terminal(client, lines=script, user_id=DEMO_USER)
    finally:
        stop.set()
        await client.close()
        await portal()
        try:
            await asyncio.wait_for(bot_task, timeout=30)
        finally:
            await sandbox.stop()


async def _start_portal(settings: Settings, port: int | None):  # type: ignore[no-untyped-def]
    """The web portal on 127.0.0.1 (HTTP_PORT, else a free port), its address printed; returns a stopper."""
    from bot.web import public_routes, start_http
    from db.session import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    runner = await start_http(public_routes(create_session_factory(engine), settings), "127.0.0.1", port or 0)
    port = runner.addresses[0][1]
    print(f"Portal: http://127.0.0.1:{port}/  (the web pages over the same data; Ctrl+C or /quit ends the demo)", flush=True)

    async def stop() -> None:
        await runner.cleanup()
        await engine.dispose()

    return stop


async def _wait_until_polling(sandbox: SandboxServer, bot_task: asyncio.Task[None]) -> None:
    """Give the bot a moment to start; surface its start-up error instead of a silent chat."""
    done, _ = await asyncio.wait({bot_task}, timeout=1.5)
    if done:
        bot_task.result()  # raises the start-up error (for example an unmigrated database)
