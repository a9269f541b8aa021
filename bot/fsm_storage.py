"""FSM storage in our own database, so a restart resumes a conversation at the same step."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmRecord

# The session of the update being handled. FSM changes join it, so they commit together
# with the data they describe (and SQLite never sees two writers in one update).
update_session: ContextVar[AsyncSession | None] = ContextVar("update_session", default=None)


def storage_key(key: StorageKey) -> str:
    """One string per conversation: bot, chat, user, thread and destiny."""
    parts = [key.bot_id, key.chat_id, key.user_id, key.thread_id or 0, key.business_connection_id or "", key.destiny]
    return ":".join(str(part) for part in parts)


class DatabaseStorage(BaseStorage):
    """aiogram FSM storage backed by the `fsm_states` table (SQLite or PostgreSQL)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        joined = update_session.get()
        if joined is not None:
            yield joined
            await joined.flush()
            return
        async with self._sessions() as session:
            yield session
            await session.commit()

    async def _write(self, key: StorageKey, **values: Any) -> None:
        async with self._session() as session:
            record = await session.get(FsmRecord, storage_key(key))
            if record is None:
                if not any(values.values()):
                    return  # clearing what was never stored stores nothing
                record = FsmRecord(key=storage_key(key), state=None, data={})
                session.add(record)
            for name, value in values.items():
                setattr(record, name, value)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        await self._write(key, state=state.state if isinstance(state, State) else state)

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._write(key, data=dict(data))

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as session:
            record = await session.get(FsmRecord, storage_key(key))
            return record.state if record else None

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as session:
            record = await session.get(FsmRecord, storage_key(key))
            return dict(record.data) if record and record.data else {}

    async def forget_user(self, user_id: int) -> None:
        """Erase every conversation of one user (used by /delete)."""
        async with self._session() as session:
            await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{user_id}:%")))

    async def close(self) -> None:
        return None

    async def keys(self) -> list[str]:
        """All stored conversation keys (for tests and maintenance)."""
        async with self._session() as session:
            return list((await session.scalars(select(FsmRecord.key))).all())
