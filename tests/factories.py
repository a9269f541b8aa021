"""Rows the tests start from: members, organisations, roles, events."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Event, EventStatus, Member, Organisation, Role, RoleName
from db.types import utcnow


async def add_member(session: AsyncSession, telegram_id: int, locale: str = "en", **fields: Any) -> Member:
    """A registered member without quiet hours (flushed, not committed)."""
    values: dict[str, Any] = dict(locale=locale, display_name=f"M{telegram_id}", registered_at=utcnow(),
                                  quiet_start=None, quiet_end=None)
    values.update(fields)
    member = Member(telegram_id=telegram_id, **values)
    session.add(member)
    await session.flush()
    return member


async def add_org(session: AsyncSession, name: str = "Ala-Too", **fields: Any) -> Organisation:
    org = Organisation(name=name, category="cultural_centre", **fields)
    session.add(org)
    await session.flush()
    return org


async def appoint(session: AsyncSession, member: Member, org: Organisation) -> None:
    """Make `member` a representative of `org`."""
    session.add(Role(member_id=member.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    await session.flush()


async def make_secretariat(session: AsyncSession, member: Member) -> Role:
    role = Role(member_id=member.id, role=RoleName.SECRETARIAT.value)
    session.add(role)
    await session.flush()
    return role


async def approved_event(session: AsyncSession, org: Organisation, *, capacity: int | None = None,
                         starts_at: datetime | None = None, zone: str = "Europe/Berlin", **fields: Any) -> Event:
    """An approved event in Berlin, five days ahead unless told."""
    values: dict[str, Any] = dict(
        organisation_id=org.id, title="Toi <i>&</i>", description="Music", starts_at=starts_at or utcnow() + timedelta(days=5),
        timezone=zone, latitude=52.52, longitude=13.405, city="Berlin", category="culture", capacity=capacity,
        status=EventStatus.APPROVED.value)
    values.update(fields)
    event = Event(**values)
    session.add(event)
    await session.flush()
    return event


async def add_members(session: AsyncSession, client: Any, count: int, *, start: int = 10_000, **fields: Any) -> list[Member]:
    """Registered members in Berlin, each with a sandbox chat (committed)."""
    from sandbox.client import SandboxUser

    members = []
    for index in range(count):
        values = {"locale": "en", "country_code": "DE", "city_id": 2950159, "registered_at": utcnow(),
                  "quiet_start": None, "quiet_end": None, "timezone": "Europe/Berlin", **fields}
        member = Member(telegram_id=start + index, display_name=f"M{index}", **values)
        session.add(member)
        members.append(member)
        await client.register(SandboxUser(start + index, f"M{index}", language_code=values["locale"]))
    await session.commit()
    return members


async def run_due(context: Any, now: datetime | None = None) -> None:
    """One announcements tick, and wait for the broadcasts it started."""
    import asyncio

    from jobs.announcements import tick

    for task in await tick(context, now):
        await asyncio.wait_for(task, timeout=60)


async def run_notices(running_bot: Any, now: datetime | None = None) -> int:
    """One tick of the worker's event notices (jobs/event_news.py) for the bot under test: what
    `kardes worker` does every few seconds. Returns how many were delivered."""
    from jobs import event_news
    from jobs.context import JobContext

    context = JobContext(running_bot.settings, running_bot.app.session_factory, running_bot.bot, running_bot.app.i18n)
    return await event_news.tick(context, now)
