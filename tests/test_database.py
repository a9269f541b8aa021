"""The schema on SQLite and PostgreSQL: migrations, UTC timestamps, FSM persistence."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.fsm_storage import DatabaseStorage
from db.migrate import DatabaseNotReady, current_revision, ensure_up_to_date, head_revision
from db.models import Announcement, Delivery, Member
from db.session import create_engine


async def test_migrated_database_is_at_head(engine) -> None:  # type: ignore[no-untyped-def]
    assert await current_revision(engine) == head_revision()
    await ensure_up_to_date(engine)


async def test_an_unmigrated_database_is_refused_with_the_command_to_run(tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}")
    with pytest.raises(DatabaseNotReady, match="kardes db upgrade"):
        await ensure_up_to_date(engine)
    await engine.dispose()


async def test_timestamps_come_back_as_aware_utc(session) -> None:  # type: ignore[no-untyped-def]
    almaty = timezone(timedelta(hours=5))
    member = Member(telegram_id=42, consent_at=datetime(2026, 12, 25, 18, 30, tzinfo=almaty))
    session.add(member)
    await session.commit()
    session.expunge_all()
    loaded = await session.scalar(select(Member).where(Member.telegram_id == 42))
    assert loaded.consent_at == datetime(2026, 12, 25, 13, 30, tzinfo=timezone.utc)
    assert loaded.consent_at.utcoffset() == timedelta(0)
    assert loaded.created_at.tzinfo is not None


async def test_naive_timestamps_are_refused(session) -> None:  # type: ignore[no-untyped-def]
    session.add(Member(telegram_id=43, consent_at=datetime(2026, 1, 1)))
    with pytest.raises(Exception, match="naive"):
        await session.commit()


async def test_one_delivery_per_member_and_announcement(session) -> None:  # type: ignore[no-untyped-def]
    member = Member(telegram_id=44)
    announcement = Announcement(texts={"en": "Hello"})
    session.add_all([member, announcement])
    await session.flush()
    session.add(Delivery(announcement_id=announcement.id, member_id=member.id))
    await session.flush()
    session.add(Delivery(announcement_id=announcement.id, member_id=member.id))
    with pytest.raises(IntegrityError):
        await session.flush()


async def test_fsm_state_survives_a_new_storage(session_factory) -> None:  # type: ignore[no-untyped-def]
    key = StorageKey(bot_id=1, chat_id=1001, user_id=1001)
    first = DatabaseStorage(session_factory)
    await first.set_state(key, "Registration:name")
    await first.update_data(key, {"locale": "kk"})
    second = DatabaseStorage(session_factory)  # as after a restart
    assert await second.get_state(key) == "Registration:name"
    assert await second.get_data(key) == {"locale": "kk"}
    await second.forget_user(1001)
    assert await second.get_state(key) is None


async def test_the_migrations_build_exactly_the_models(engine) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from db.models import Base

    def differences(connection):  # type: ignore[no-untyped-def]
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        return [d for d in diff if not (isinstance(d, tuple) and "apscheduler" in str(d))]

    async with engine.connect() as connection:
        assert await connection.run_sync(differences) == []
