"""FSM storage in our own database, so a restart resumes a conversation at the same step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.transaction import UpdateScope, joined_scope
from db.models import FsmRecord


def storage_key(key: StorageKey) -> str:
    """One string per conversation: bot, chat, user, thread and destiny."""
    parts = [key.bot_id, key.chat_id, key.user_id, key.thread_id or 0, key.business_connection_id or "", key.destiny]
    return ":".join(str(part) for part in parts)


_MISSING = object()


class DatabaseStorage(BaseStorage):
    """aiogram FSM storage backed by the `fsm_states` table (SQLite or PostgreSQL).

    Inside an update, state changes join the update's session (they commit together with the
    data they describe) and the record is read at most once per update (the scope's cache).
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
    async def _record(session: AsyncSession, scope: UpdateScope | None, key: str) -> FsmRecord | None:
        if scope is not None:
            cached = scope.fsm_cache.get(key, _MISSING)
            if cached is not _MISSING:
                return cached  # type: ignore[return-value]
        record = await session.get(FsmRecord, key)
        if scope is not None:
            scope.fsm_cache[key] = record
        return record

    async def _write(self, key: StorageKey, **values: Any) -> None:
        name = storage_key(key)
        async with self._session() as (session, scope):
            record = await self._record(session, scope, name)
            if record is None:
                if not any(values.values()):
                    return  # clearing what was never stored stores nothing
                record = FsmRecord(key=name, state=None, data={})
                session.add(record)
                if scope is not None:
                    scope.fsm_cache[name] = record
            for field, value in values.items():
                setattr(record, field, value)
            # Inside an update the change is flushed by the commit that precedes the next reply
            # (bot/transaction.py), so the write lock is taken as late and held as briefly as possible.

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=state.state if isinstance(state, State) else state)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as (session, scope):
            record = await self._record(session, scope, storage_key(key))
            return record.state if record else None

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, scope):
            record = await self._record(session, scope, storage_key(key))
            return dict(record.data) if record and record.data else {}

    async def forget_user(self, user_id: int) -> None:
        """Erase every conversation of one user (used by /delete)."""
        async with self._session() as (session, scope):
            await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{user_id}:%")))
            if scope is not None:
                scope.fsm_cache.clear()
                for record in list(session.identity_map.values()):
                    if isinstance(record, FsmRecord):
                        session.expunge(record)

    async def close(self) -> None:
        return None

    async def keys(self) -> list[str]:
        """All stored conversation keys (for tests and maintenance)."""
        async with self._session() as (session, _scope):
            return list((await session.scalars(select(FsmRecord.key))).all())
