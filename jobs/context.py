"""What scheduled jobs need at run time, set once by the process that runs them.

APScheduler stores jobs as a reference to a module-level function plus arguments, so
jobs take ids as arguments and find the database (and the bot) here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings


@dataclass
class JobContext:
    settings: Settings
    session_factory: async_sessionmaker[AsyncSession]
    bot: Bot | None = None
    i18n: Any = None  # aiogram's I18n, for messages in each member's language


_context: JobContext | None = None


def set_context(context: JobContext | None) -> None:
    global _context
    _context = context


def get_context() -> JobContext:
    """The running process's context; a job that runs without one is a wiring bug."""
    if _context is None:
        raise RuntimeError("jobs.context is not set: jobs run only inside `kardes worker` or `kardes run`")
    return _context
