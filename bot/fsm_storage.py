"""FSM storage in our own database, so a restart resumes a conversation at the same step."""

from __future__ import annotations

from typing import Any, Mapping

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, StateType, StorageKey
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import FsmRecord


def storage_key(key: StorageKey) -> str:
    """One string per conversation: bot, chat, user, thread and destiny."""
    parts = [key.bot_id, key.chat_id, key.user_id, key.thread_id or 0, key.business_connection_id or "", key.destiny]
    return ":".join(str(part) for part in parts)


class DatabaseStorage(BaseStorage):
    """aiogram FSM storage backed by the `fsm_states` table (SQLite or PostgreSQL)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def _record(self, session: AsyncSession, key: StorageKey) -> FsmRecord | None:
        return await session.get(FsmRecord, storage_key(key))

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self._sessions() as session:
            record = await self._record(session, key)
            if record is None:
                if value is None:
                    return
                session.add(FsmRecord(key=storage_key(key), state=value, data={}))
            else:
                record.state = value
            await session.commit()

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._sessions() as session:
            record = await self._record(session, key)
            return record.state if record else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        async with self._sessions() as session:
            record = await self._record(session, key)
            if record is None:
                if not data:
                    return
                session.add(FsmRecord(key=storage_key(key), state=None, data=dict(data)))
            else:
                record.data = dict(data)
            await session.commit()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._sessions() as session:
            record = await self._record(session, key)
            return dict(record.data) if record and record.data else {}

    async def forget_user(self, user_id: int) -> None:
        """Erase every conversation of one user (used by /delete)."""
        async with self._sessions() as session:
            await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{user_id}:%")))
            await session.commit()

    async def close(self) -> None:
        return None

    async def keys(self) -> list[str]:
        """All stored conversation keys (for tests and maintenance)."""
        async with self._sessions() as session:
            return list((await session.scalars(select(FsmRecord.key))).all())
