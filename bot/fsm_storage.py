"""FSM storage in our own database, so a restart resumes a conversation at the same step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.transaction import UpdateScope, joined_scope
from db.models import FsmRecord
from db.session import defer_write


def storage_key(key: StorageKey) -> str:
    """One string per conversation: bot, chat, user, thread and destiny."""
    parts = [key.bot_id, key.chat_id, key.user_id, key.thread_id or 0, key.business_connection_id or "", key.destiny]
    return ":".join(str(part) for part in parts)


class Conversation:
    """One conversation's state and data as stored (`stored`: its row exists), or about to be."""

    __slots__ = ("state", "data", "stored")

    def __init__(self, state: str | None, data: dict[str, Any] | None, stored: bool) -> None:
        self.state = state
        self.data = data or {}
        self.stored = stored


_TABLE = FsmRecord.__table__
_READ = select(_TABLE.c.state, _TABLE.c.data).where(_TABLE.c.key == bindparam("key"))
_INSERT = insert(_TABLE)
_UPDATE = (update(_TABLE).where(_TABLE.c.key == bindparam("name"))
           .values(state=bindparam("state"), data=bindparam("data")))
_MISSING = object()


def _store(name: str, conversation: Conversation, connection: Connection) -> None:
    """Write the conversation as it is now (a deferred write: see db.session.defer_write)."""
    values = {"state": conversation.state, "data": conversation.data}
    if conversation.stored:
        connection.execute(_UPDATE, {"name": name, **values})
    else:
        connection.execute(_INSERT, {"key": name, **values})
        conversation.stored = True


class DatabaseStorage(BaseStorage):
    """aiogram FSM storage backed by the `fsm_states` table (SQLite or PostgreSQL).

    Inside an update, state changes join the update's session (they commit together with the
    data they describe) and the record is read at most once per update (the scope's cache).
    A change is written as one plain SQL statement just before the session's next statement or
    commit (the commit before the next reply, bot/transaction.py), so the changes of one step
    (state, then data) are one write, and the write lock is taken as late as possible.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[AsyncSession, UpdateScope | None]]:
        scope = joined_scope()
        if scope is not None:
            yield scope.session, scope
            return
        async with self._sessions() as session:
            yield session, None
            await session.commit()

    @staticmethod
    async def _conversation(session: AsyncSession, scope: UpdateScope | None, key: str) -> Conversation | None:
        if scope is not None:
            cached = scope.fsm_cache.get(key, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[return-value]
        row = (await session.execute(_READ, {"key": key})).first()
        conversation = Conversation(row.state, row.data, True) if row is not None else None
        if scope is not None:
            scope.fsm_cache[key] = conversation
        return conversation

    async def _write(self, key: StorageKey, **values: Any) -> None:
        name = storage_key(key)
        async with self._session() as (session, scope):
            conversation = await self._conversation(session, scope, name)
            if conversation is None:
                if not any(values.values()):
                    return  # clearing what was never stored stores nothing
                conversation = Conversation(None, {}, False)
                if scope is not None:
                    scope.fsm_cache[name] = conversation
            for field, value in values.items():
                setattr(conversation, field, value)
            defer_write(session, ("fsm", name), lambda connection: _store(name, conversation, connection))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=state.state if isinstance(state, State) else state)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as (session, scope):
            conversation = await self._conversation(session, scope, storage_key(key))
            return conversation.state if conversation else None

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, scope):
            conversation = await self._conversation(session, scope, storage_key(key))
            return dict(conversation.data) if conversation and conversation.data else {}

    async def forget_user(self, user_id: int) -> None:
        """Erase every conversation of one user (used by /delete)."""
        async with self._session() as (session, scope):
            await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{user_id}:%")))
            if scope is not None:
                scope.fsm_cache.clear()

    async def close(self) -> None:
        return None

    async def keys(self) -> list[str]:
        """All stored conversation keys (for tests and maintenance)."""
        async with self._session() as (session, _scope):
            return list((await session.scalars(select(FsmRecord.key))).all())
