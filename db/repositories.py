"""Queries, grouped by what they are about, behind one facade: `repo.members.get(...)`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AuditEntry, Member, Role, RoleName


class MemberRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_telegram_id(self, telegram_id: int) -> Member | None:
        """The member with this Telegram user id, if registered."""
        return await self.session.scalar(select(Member).where(Member.telegram_id == telegram_id))

    async def add(self, telegram_id: int, **fields: object) -> Member:
        """Create a member row."""
        member = Member(telegram_id=telegram_id, **fields)
        self.session.add(member)
        await self.session.flush()
        return member


class RoleRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def has(self, member_id: int, role: RoleName, organisation_id: int | None = None) -> bool:
        """Whether a member holds a role (for an organisation, when given)."""
        query = select(Role.id).where(Role.member_id == member_id, Role.role == role.value)
        if organisation_id is not None:
            query = query.where(Role.organisation_id == organisation_id)
        return (await self.session.scalar(query.limit(1))) is not None


class AuditRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(self, action: str, actor_id: int | None = None, **details: object) -> None:
        """Append an audit entry."""
        self.session.add(AuditEntry(action=action, actor_id=actor_id, details=details))
        await self.session.flush()


class Repo:
    """All repositories over one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.members = MemberRepo(session)
        self.roles = RoleRepo(session)
        self.audit = AuditRepo(session)
