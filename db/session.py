"""Engine and session factory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Delete, Insert, TextClause, Update, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState, Session

from db import sqlite_driver


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
        # Our own DB-API module under SQLAlchemy's aiosqlite dialect: one thread hop per statement.
        engine = create_async_engine(url, module=sqlite_driver.dbapi, connect_args={"timeout": sqlite_busy_timeout},
                                     **kwargs)

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
    """Sessions that keep loaded objects usable after commit (on SQLite, behind the writer gate)."""
    if engine.dialect.name == "sqlite":
        return async_sessionmaker(engine, expire_on_commit=False, class_=SQLiteGatedSession)
    return async_sessionmaker(engine, expire_on_commit=False)


# --- deferred writes ---------------------------------------------------------------------------
# A write that may wait: it runs (in the session's transaction) right before the session's next
# statement or its commit, and a later write under the same key replaces a waiting one. The FSM
# storage uses it, so the several state changes of one step become one statement, sent without
# the ORM's unit of work, and still ahead of any query that could read the table.

DEFERRED = "deferred_writes"
Write = Callable[[Connection], None]


def defer_write(session: AsyncSession, key: Hashable, write: Write) -> None:
    """Run `write(connection)` before the session's next statement or commit (see above)."""
    sync = session.sync_session
    if not sync.in_transaction():
        sync.begin()  # no I/O; the write then belongs to a transaction, and a rollback drops it
    sync.info.setdefault(DEFERRED, {})[key] = write


def has_deferred(session: AsyncSession) -> bool:
    """Whether writes wait for the session's next statement or commit."""
    return bool(session.sync_session.info.get(DEFERRED))


def _run_deferred(session: Session) -> None:
    writes = session.info.pop(DEFERRED, None)
    if writes:
        connection = session.connection()
        for write in writes.values():
            write(connection)


@event.listens_for(Session, "do_orm_execute")
def _before_statement(state: ORMExecuteState) -> None:
    if DEFERRED in state.session.info:
        _run_deferred(state.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if DEFERRED in session.info:
        _run_deferred(session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # rolled back or closed: its waiting writes go with it
        session.info.pop(DEFERRED, None)


_gates: dict[int, asyncio.Lock] = {}
GATE_TIMEOUT = 30.0  # after this, write anyway and let SQLite's busy timeout decide


def _is_write(statement: Any) -> bool:
    if isinstance(statement, (Insert, Update, Delete)):
        return True
    if isinstance(statement, TextClause):
        return statement.text.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE", "REPLAC")
    return False


class SQLiteGatedSession(AsyncSession):
    """SQLite has one writer. When many connections want to write, each one that finds the lock
    taken sleeps in SQLite's busy handler (1, 2, 5 … 100 ms steps) and polls again, so under a
    crowd writers wait far longer than the writes take. Here a session about to write first takes
    the process's writer gate (an asyncio lock, first come first served) and keeps it until its
    transaction ends; since no transaction is held across a Bot API call, that is short. Readers
    never wait (WAL). Other processes still meet SQLite's own lock and busy timeout."""

    _holds_gate = False

    def _gate(self) -> asyncio.Lock:
        key = id(self.sync_session.get_bind())
        gate = _gates.get(key)
        if gate is None:
            gate = _gates[key] = asyncio.Lock()
        return gate

    def _pending(self) -> bool:
        sync = self.sync_session
        return bool(sync.new or sync.dirty or sync.deleted or sync.info.get(DEFERRED))

    async def _enter(self, writing: bool) -> None:
        if writing and not self._holds_gate:
            try:
                async with asyncio.timeout(GATE_TIMEOUT):  # a timer, not wait_for's extra task per write
                    await self._gate().acquire()
                self._holds_gate = True
            except TimeoutError:
                pass

    def _leave(self) -> None:
        if self._holds_gate:
            self._holds_gate = False
            self._gate().release()

    async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        await self._enter(self._pending() or _is_write(statement))
        return await super().execute(statement, *args, **kwargs)

    async def scalar(self, statement: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        await self._enter(self._pending())
        return await super().scalar(statement, *args, **kwargs)

    async def scalars(self, statement: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        await self._enter(self._pending())
        return await super().scalars(statement, *args, **kwargs)

    async def get(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        await self._enter(self._pending())
        return await super().get(*args, **kwargs)

    async def flush(self, objects: Any = None) -> None:
        await self._enter(self._pending())
        await super().flush(objects)

    async def commit(self) -> None:
        await self._enter(self._pending())
        try:
            await super().commit()
        finally:
            self._leave()

    async def rollback(self) -> None:
        try:
            await super().rollback()
        finally:
            self._leave()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            self._leave()


def sync_url(url: str) -> str:
    """The synchronous twin of an async URL (Alembic and APScheduler's job store need one)."""
    return url.replace("sqlite+aiosqlite://", "sqlite://").replace("postgresql+asyncpg://", "postgresql+psycopg://")
