"""Shared fixtures: a real database (SQLite file, or PostgreSQL from TEST_DATABASE_URL) and the sandbox."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings, load_settings
from db.migrate import upgrade
from db.models import Base
from db.session import create_engine, create_session_factory


def _one_tls_context_per_test_process() -> None:
    """Every test builds its own Bot, and aiogram's session builds a TLS context for each, which
    reads the whole CA bundle (about 30 ms of CPU, some 15 s over the suite). The bots under test
    talk plain HTTP to the sandbox, so the test process shares one context between them; the bot's
    own code is unchanged."""
    import ssl
    import types

    from aiogram.client.session import aiohttp as session_module

    shared: dict[tuple[object, ...], ssl.SSLContext] = {}

    def create_default_context(*args: object, **kwargs: object) -> ssl.SSLContext:
        key = (*args, *sorted(kwargs.items()))
        if key not in shared:
            shared[key] = ssl.create_default_context(*args, **kwargs)  # type: ignore[arg-type]
        return shared[key]

    session_module.ssl = types.SimpleNamespace(create_default_context=create_default_context)  # type: ignore[assignment]


def pytest_configure(config: pytest.Config) -> None:
    # pytest-xdist's controller only hands tests out: it never builds a bot, and importing aiogram
    # there would cost some 4 s of CPU while the workers start.
    is_controller = bool(config.getoption("numprocesses", None)) and not hasattr(config, "workerinput")
    if not is_controller:
        _one_tls_context_per_test_process()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests marked slow (a few seconds each, mostly waiting for processes or a clock) go first.
    The workers then take them one each at the start and share the quick ones at the end, instead of one worker
    starting a fifteen-second test when the others are nearly done. The sort is stable, and every
    worker collects the same order, as pytest-xdist requires.

    The tests that fork processes from the warm process server (tests/processes.py) share one
    xdist group, so one worker builds that server instead of each (about 5 s of CPU apiece);
    `--dist loadgroup` keeps a group on one worker and hands every other test out singly."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"… when pytest-xdist runs the suite in parallel


def _own_postgresql_database(url: str) -> tuple[str, Callable[[], None]]:
    """A worker's own database beside TEST_DATABASE_URL's (kardes_ci_gw0…), made afresh; and its dropper.

    Parallel workers cannot share one database: every test empties the tables first.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{WORKER}"
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)

    def run(statement: str) -> None:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(statement)

    run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    run(f'CREATE DATABASE "{name}"')
    return base.set(database=name).render_as_string(hide_password=False), lambda: run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_DATABASE_URL when given (PostgreSQL in CI), else a fresh SQLite file; migrated once.

    Under pytest-xdist each worker has its own: a SQLite file in its own temporary folder, or a
    PostgreSQL database of its own next to TEST_DATABASE_URL's.
    """
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    drop: Callable[[], None] | None = None
    if WORKER and url.startswith("postgresql"):
        url, drop = _own_postgresql_database(url)
    url = load_settings(database_url=url).database_url
    upgrade(url)
    yield url
    if drop is not None:
        drop()


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    """TEST_REDIS_URL (CI sets it); under pytest-xdist each worker takes its own database number below it."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url or not WORKER:
        return url
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) - int(WORKER.removeprefix("gw"))
    return parts._replace(path=f"/{number % 16}").geturl()


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
    from sandbox.server import SandboxServer

    server = SandboxServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def client(sandbox) -> AsyncIterator["SandboxClient"]:  # type: ignore[no-untyped-def]
    from sandbox.client import SandboxClient

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
