"""Members: lookup, language choice, activity."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LOCALES
from db.models import Member
from db.repositories import Repo


async def reactivate(session: AsyncSession, member: Member) -> None:
    """A member who blocked the bot and writes again is active again."""
    if not member.is_active:
        member.is_active = True
        await Repo(session).audit.record("member.reactivated", actor_id=member.id)


async def set_locale(session: AsyncSession, member: Member, locale: str) -> None:
    """Store a member's language choice."""
    if locale not in LOCALES:
        raise ValueError(f"unknown locale {locale!r}")
    member.locale = locale
    await session.flush()


async def stored_locale(session: AsyncSession, telegram_id: int) -> str | None:
    """The language a member chose, by Telegram id (None for someone we do not know)."""
    return await session.scalar(select(Member.locale).where(Member.telegram_id == telegram_id))
