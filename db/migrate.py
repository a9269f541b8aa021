"""Alembic, driven from code: `kardes db upgrade` and the start-up check."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from db.session import ensure_sqlite_folder, sync_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseNotReady(Exception):
    """The database is missing migrations; the message says what to run."""


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at our migrations and the given database."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply migrations up to `revision`."""
    ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), revision)


def head_revision() -> str | None:
    """The newest migration shipped with this code."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    async with engine.connect() as connection:
        return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def ensure_up_to_date(engine: AsyncEngine) -> None:
    """Refuse to run on a database that is not at the code's head revision."""
    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return
    if current is None:
        raise DatabaseNotReady("The database has no tables yet: run `kardes db upgrade` first.")
    raise DatabaseNotReady(
        f"The database is at revision {current} but this code needs {head}: run `kardes db upgrade`."
    )
