"""Under load, the scheduler can neither block the loop nor die (issue 10, item 1)."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import asynccontextmanager
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.cli import serve
from sandbox.client import SandboxUser
from bot.services.announcements import Draft, schedule
from db.models import Member
from db.session import sync_url
from db.types import utcnow

LOCK_SECONDS = 6.5  # longer than the old job store's 5 s lock timeout and the bot's busy timeout here


@asynccontextmanager
async def database_locked(database_url: str) -> AsyncIterator[None]:
    """Another process's writer holds the database: SQLite's write lock, or PostgreSQL table locks."""
    if database_url.startswith("sqlite"):
        path = database_url.split(":///", 1)[1]
        connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        await asyncio.to_thread(connection.execute, "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            await asyncio.to_thread(connection.execute, "ROLLBACK")
            connection.close()
        return
    import psycopg

    connection = await psycopg.AsyncConnection.connect(sync_url(database_url).replace("postgresql+psycopg", "postgresql"))
    try:
        tables = ["announcements", "deliveries"]
        if await (await connection.execute("SELECT to_regclass('apscheduler_jobs')")).fetchone() != (None,):
            tables.append("apscheduler_jobs")  # where the old job store wrote
        await connection.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        yield
    finally:
        await connection.rollback()
        await connection.close()


@pytest.mark.slow
async def test_a_locked_database_freezes_no_chat_and_the_next_announcement_still_goes_out(
        bot_settings, client, session_factory, database_url) -> None:  # type: ignore[no-untyped-def]
    settings = bot_settings.model_copy(update={"sqlite_busy_timeout": 1.0})
    recipients = [SandboxUser(8100 + i, f"R{i}") for i in range(3)]
    async with session_factory() as session:
        for user in recipients:
            session.add(Member(telegram_id=user.id, display_name=user.first_name, registered_at=utcnow(), locale="en",
                               quiet_start=None, quiet_end=None, timezone="UTC"))
            await client.register(user)
        await session.commit()
    asker = SandboxUser(8200, "Asker")
    stop = asyncio.Event()
    running = asyncio.create_task(serve(settings, stop))
    try:
        assert await client.send(asker, "/help", settle=0.1, timeout=20), "the bot is up"
        async with database_locked(database_url):
            started = time.monotonic()
            while time.monotonic() - started < LOCK_SECONDS:
                sent = time.monotonic()
                replies = await client.send(asker, "/help", settle=0.05, timeout=5)
                assert replies, "a chat is answered while another writer holds the database"
                assert time.monotonic() - sent < 1.5, "the loop was blocked"
                await asyncio.sleep(0.3)
        async with session_factory() as session:
            await schedule(session, Draft(texts={"en": "Urgent: the consulate is closed tomorrow."}, audience={},
                                          urgent=True), None)
            await session.commit()
        for user in recipients:
            got = await client.wait_for(user.id, lambda entries: any("consulate" in e.get("plain", "") for e in entries),
                                        timeout=15)
            assert any("consulate" in e.get("plain", "") for e in got), f"{user.first_name} got the announcement"
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=30)
    async with session_factory() as session:
        assert len((await session.scalars(select(Member))).all()) == 3
