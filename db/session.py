"""Engine and session factory."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def ensure_sqlite_folder(url: str) -> None:
    """SQLite creates the file but not its folder (./data/ on a fresh checkout)."""
    if url.startswith("sqlite") and ":///" in url:
        path = url.split(":///", 1)[1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)


def create_engine(url: str, *, pool_size: int | None = None, sqlite_busy_timeout: float = 30.0,
                  **kwargs: object) -> AsyncEngine:
    """An async engine; SQLite gets foreign keys on, WAL and a busy timeout so workers can share the file.

    `pool_size`: connections kept; the bot sizes it to its bound on updates in flight, so an
    update never waits for a connection (no overflow beyond a small margin)."""
    if pool_size is not None:
        kwargs = {"pool_size": pool_size, "max_overflow": 4, "pool_timeout": 60, **kwargs}
    if url.startswith("sqlite"):
        ensure_sqlite_folder(url)
        busy_ms = int(sqlite_busy_timeout * 1000)
        engine = create_async_engine(url, connect_args={"timeout": sqlite_busy_timeout}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode NORMAL stays consistent after a crash of the process; only an OS crash or
            # power loss can drop the last commits. It saves an fsync on every commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.close()

        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def sync_url(url: str) -> str:
    """The synchronous twin of an async URL (Alembic and APScheduler's job store need one)."""
    return url.replace("sqlite+aiosqlite://", "sqlite://").replace("postgresql+asyncpg://", "postgresql+psycopg://")
