"""SQLite for the event loop with one thread hop per statement.

SQLAlchemy's aiosqlite adapter crosses to aiosqlite's thread four times for every statement
(open a cursor, execute, fetch the rows, close the cursor), and once more for every COMMIT and
ROLLBACK, even when nothing was written. Each crossing is a queue hand-off, a wake-up of the
thread, a fight for the GIL and a wake-up of the event loop through its self-pipe: under a crowd
that was a third of the bot's CPU. Here the statement, its rows and its cursor figures travel in
one call; COMMIT and ROLLBACK of a connection that has no transaction open cost nothing (SQLite
says so itself: `in_transaction`, a flag read, no I/O).

The database work still runs off the loop, in a small pool of threads shared by all connections
of the process (`THREADS`; one connection is only ever used by one statement at a time, so any
thread may serve it). A thread that finishes a statement while others are queued takes the next
one before waking the loop, and wakes it once for all the answers (`_deliver`).

It plugs in as the DB-API module of SQLAlchemy's `sqlite+aiosqlite` dialect (`module=` of
`create_async_engine`), so URLs, the dialect, its SQL and its type handling stay as they were.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine import AdaptedConnection
from sqlalchemy.util.concurrency import await_

THREADS = 2  # a second one keeps reads going while one waits out another process's write lock
BATCH = 32  # answers collected before the loop is woken, when statements are queued

_Job = tuple[asyncio.AbstractEventLoop, asyncio.Future[Any], Callable[..., Any], tuple[Any, ...]]


class _Pool:
    """Worker threads taking (loop, future, function, args) jobs; results go back in batches."""

    def __init__(self, threads: int) -> None:
        self.jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, name=f"sqlite-{n}", daemon=True) for n in range(threads)]
        for thread in self.threads:
            thread.start()

    def submit(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.jobs.put((loop, future, function, args))
        return future

    def _work(self) -> None:
        done: list[tuple[asyncio.Future[Any], bool, Any]] = []
        loop: asyncio.AbstractEventLoop | None = None
        while True:
            job = self.jobs.get()
            if job is None:
                return
            job_loop, future, function, args = job
            if loop is not None and job_loop is not loop and done:
                self._deliver(loop, done)
                done = []
            loop = job_loop
            try:
                done.append((future, True, function(*args)))
            except BaseException as error:  # handed to the awaiting coroutine
                done.append((future, False, error))
            if len(done) >= BATCH or self.jobs.empty():
                self._deliver(loop, done)
                done = []

    @staticmethod
    def _deliver(loop: asyncio.AbstractEventLoop, done: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
        try:
            loop.call_soon_threadsafe(_settle, done)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass


def _settle(done: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in done:
        if future.cancelled():
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


_pool: _Pool | None = None
_pool_lock = threading.Lock()


def _threads() -> _Pool:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = _Pool(THREADS)
    return _pool


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> tuple[Any, ...]:
    """In a worker thread: one statement with its rows and figures."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class Cursor:
    """The DB-API cursor SQLAlchemy sees (called inside its greenlet); rows are fetched with the statement."""

    server_side = False
    __slots__ = ("_connection", "description", "rowcount", "lastrowid", "arraysize", "_rows")

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1
        self._rows: list[Any] = []

    def _call(self, operation: str, parameters: Any, many: bool) -> None:
        self.description, rows, self.rowcount, self.lastrowid = await_(
            self._connection._submit(_run, self._connection._sqlite, operation, parameters, many))
        self._rows = rows
        self._rows.reverse()  # popped from the end

    def execute(self, operation: str, parameters: Any = None) -> None:
        self._call(operation, parameters, False)

    def executemany(self, operation: str, seq_of_parameters: Sequence[Any]) -> None:
        self._call(operation, seq_of_parameters, True)

    def fetchone(self) -> Any:
        return self._rows.pop() if self._rows else None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        size = self.arraysize if size is None else size
        taken = [self._rows.pop() for _ in range(min(size, len(self._rows)))]
        return taken

    def fetchall(self) -> list[Any]:
        rows = self._rows[::-1]
        self._rows = []
        return rows

    def __iter__(self) -> Any:
        while self._rows:
            yield self._rows.pop()

    def close(self) -> None:
        self._rows = []

    async def _async_soft_close(self) -> None:  # SQLAlchemy's async results call it; the rows are here already
        return None

    def setinputsizes(self, *sizes: Any) -> None:
        return None

    def setoutputsize(self, *args: Any) -> None:
        return None

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Connection(AdaptedConnection):
    """The DB-API connection SQLAlchemy sees; `_connection` is the sqlite3 connection itself."""

    __slots__ = ("dbapi", "_sqlite", "_pool")

    def __init__(self, dbapi: Any, sqlite: sqlite3.Connection, pool: _Pool) -> None:
        self.dbapi = dbapi
        self._sqlite = sqlite
        self._connection = sqlite
        self._pool = pool

    def _submit(self, function: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        return self._pool.submit(function, *args)

    def _in_thread(self, function: Callable[..., Any], *args: Any) -> Any:
        return await_(self._pool.submit(function, *args))

    def cursor(self, server_side: bool = False) -> Cursor:  # everything is fetched with the statement
        return Cursor(self)

    def execute(self, operation: str, parameters: Any = None) -> Cursor:
        cursor = self.cursor()
        cursor.execute(operation, parameters)
        return cursor

    def commit(self) -> None:
        if self._sqlite.in_transaction:
            self._in_thread(self._sqlite.commit)

    def rollback(self) -> None:
        if self._sqlite.in_transaction:
            self._in_thread(self._sqlite.rollback)

    def close(self) -> None:
        self._in_thread(self._sqlite.close)

    def terminate(self) -> None:
        try:
            self.close()
        except Exception:
            self._sqlite.close()

    @property
    def isolation_level(self) -> str | None:
        return self._sqlite.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._in_thread(setattr, self._sqlite, "isolation_level", value)

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._in_thread(lambda: self._sqlite.create_function(*args, **kwargs))


class DBAPI(AsyncAdapt_aiosqlite_dbapi):
    """aiosqlite's module as SQLAlchemy's dialect expects it (errors, version), with our connections."""

    def __init__(self) -> None:
        super().__init__(aiosqlite, sqlite3)

    def connect(self, *args: Any, **kwargs: Any) -> Connection:  # type: ignore[override]
        kwargs.pop("async_creator_fn", None)
        kwargs["check_same_thread"] = False  # any of the pool's threads may serve the connection
        pool = _threads()
        sqlite = await_(pool.submit(lambda: sqlite3.connect(*args, **kwargs)))
        return Connection(self, sqlite, pool)


dbapi = DBAPI()
