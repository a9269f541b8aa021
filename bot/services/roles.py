"""Roles: who is the secretariat, who represents which organisation. Checked on every privileged action."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Member, Role, RoleName


async def is_secretariat(session: AsyncSession, member: Member | None, secretariat_ids: frozenset[int]) -> bool:
    """The secretariat: listed in SECRETARIAT_IDS, or granted the role in the database."""
    if member is None:
        return False
    if member.telegram_id in secretariat_ids:
        return True
    query = select(Role.id).where(Role.member_id == member.id, Role.role == RoleName.SECRETARIAT.value)
    return (await session.scalar(query.limit(1))) is not None


async def represents(session: AsyncSession, member: Member | None, organisation_id: int) -> bool:
    """Whether the member is a representative of this organisation."""
    if member is None:
        return False
    query = select(Role.id).where(
        Role.member_id == member.id, Role.role == RoleName.ORG_REP.value, Role.organisation_id == organisation_id
    )
    return (await session.scalar(query.limit(1))) is not None


async def secretariat_chat_ids(session: AsyncSession, secretariat_ids: frozenset[int]) -> list[int]:
    """Telegram ids of every active secretariat member (for alerts)."""
    granted = await session.scalars(
        select(Member.telegram_id).join(Role, Role.member_id == Member.id)
        .where(Role.role == RoleName.SECRETARIAT.value, Member.is_active.is_(True))
    )
    return sorted(set(granted) | set(secretariat_ids))


async def representative_chat_ids(session: AsyncSession, organisation_id: int) -> list[int]:
    """Telegram ids of an organisation's active representatives."""
    rows = await session.scalars(
        select(Member.telegram_id).join(Role, Role.member_id == Member.id)
        .where(Role.role == RoleName.ORG_REP.value, Role.organisation_id == organisation_id, Member.is_active.is_(True))
    )
    return sorted(set(rows))


async def representatives(session: AsyncSession, organisation_id: int) -> list[Member]:
    """An organisation's active representatives, by member id."""
    rows = await session.scalars(
        select(Member).join(Role, Role.member_id == Member.id)
        .where(Role.role == RoleName.ORG_REP.value, Role.organisation_id == organisation_id, Member.is_active.is_(True))
        .order_by(Member.id)
    )
    return list(rows.unique())


async def secretariat_recipients(session: AsyncSession, secretariat_ids: frozenset[int]) -> list[tuple[int, Member | None]]:
    """Every secretariat chat (secretariat_chat_ids) with its member row, None for an id that has none."""
    chat_ids = await secretariat_chat_ids(session, secretariat_ids)
    rows = {member.telegram_id: member for member in await session.scalars(select(Member).where(Member.telegram_id.in_(chat_ids)))}
    return [(chat_id, rows.get(chat_id)) for chat_id in chat_ids]
