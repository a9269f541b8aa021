"""Shared fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL) and the sandbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings, load_settings
from db.migrate import upgrade
from db.models import Base
from db.session import create_engine, create_session_factory


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """TEST_DATABASE_URL when given (PostgreSQL in CI), else a fresh SQLite file; migrated once."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    url = load_settings(database_url=url).database_url
    upgrade(url)
    return url


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_session_factory(engine)


@pytest.fixture(autouse=True)
async def clean_database(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Every test starts with empty tables (only for tests that use the database)."""
    if "session_factory" in request.fixturenames or "engine" in request.fixturenames:
        factory: async_sessionmaker[AsyncSession] = request.getfixturevalue("session_factory")
        async with factory() as session:
            for table in reversed(Base.metadata.sorted_tables):
                await session.execute(delete(table))
            await session.commit()
    yield


@pytest.fixture
async def session(session_factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with session_factory() as session:
        yield session


def test_settings(database_url: str, api_base: str, token: str, **overrides: object) -> Settings:
    """Settings for a bot under test: the test database and the sandbox."""
    values: dict[str, object] = {
        "database_url": database_url,
        "telegram_api_base": api_base,
        "bot_token": token,
        "redis_url": None,
        "webhook_url": None,
        "throttle_rate": 50.0,
        "throttle_burst": 50,
    }
    values.update(overrides)
    return load_settings(**values)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
async def sandbox() -> AsyncIterator["SandboxServer"]:
    """One sandbox Bot API server for the session, reset before each test that uses it."""
    from bot.sandbox.server import SandboxServer

    server = SandboxServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(sandbox) -> AsyncIterator["SandboxClient"]:  # type: ignore[no-untyped-def]
    from bot.sandbox.client import SandboxClient

    # A generous settle: under load the bot may pause between two messages of one reply.
    async with SandboxClient(sandbox.base_url, settle=0.5) as client:
        await client.reset()
        yield client


@pytest.fixture
def bot_settings(database_url: str, sandbox) -> Settings:  # type: ignore[no-untyped-def]
    return test_settings(database_url, sandbox.base_url, sandbox.token, secretariat_ids="900")


@pytest.fixture
async def running_bot(bot_settings: Settings, client, session_factory) -> AsyncIterator["RunningBot"]:  # type: ignore[no-untyped-def]
    """The real bot, polling the sandbox, on the test database."""
    from tests.harness import RunningBot

    bot = await RunningBot(bot_settings).start()
    yield bot
    await bot.stop()
