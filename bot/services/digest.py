"""The weekly digest: who is due one (Monday from 09:00 in their own time zone, once that day),
and which events it lists (the coming week's, near them or from what they follow)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import distance_km, get_gazetteer
from bot.services.timeutil import zone_of
from db.models import Event, EventStatus, Follow, Member, Organisation

DIGEST_AT = time(9, 0)
FOLLOWED_CITY_KM = 25.0
MAX_ITEMS = 15


def digest_due(member: Member, now: datetime) -> date | None:
    """The member-local Monday if it is Monday 09:00 or later there and no digest went out today."""
    local = now.astimezone(zone_of(member.timezone))
    if local.weekday() != 0 or local.time() < DIGEST_AT or member.last_digest_on == local.date():
        return None
    return local.date()


async def subscribers(session: AsyncSession, now: datetime) -> list[Member]:
    """Active members who asked for the digest and had none in the last five days (due or not yet)."""
    return list((await session.scalars(
        select(Member).where(Member.digest_weekly.is_(True), Member.is_active.is_(True), Member.registered_at.is_not(None),
                             or_(Member.last_digest_on.is_(None), Member.last_digest_on < (now - timedelta(days=5)).date()))
        .order_by(Member.id)
    )).all())


async def week_events(session: AsyncSession, member: Member, now: datetime) -> list[Event]:
    """Approved events in the next seven days near the member or from what they follow, soonest first."""
    horizon = now + timedelta(days=7)
    events = (await session.scalars(
        select(Event).where(Event.status == EventStatus.APPROVED.value, Event.starts_at >= now, Event.starts_at < horizon)
        .order_by(Event.starts_at)
    )).all()
    follows = (await session.scalars(select(Follow).where(Follow.member_id == member.id))).all()
    organisations = {f.organisation_id for f in follows if f.organisation_id}
    cities = [city for city in (get_gazetteer().get(f.city_id) for f in follows if f.city_id) if city]
    chosen = []
    for event in events:
        near = (
            member.latitude is not None and event.latitude is not None
            and distance_km(member.latitude, member.longitude, event.latitude, event.longitude) <= member.radius_km  # type: ignore[arg-type]
        )
        followed = event.organisation_id in organisations or (
            event.latitude is not None
            and any(distance_km(c.latitude, c.longitude, event.latitude, event.longitude) <= FOLLOWED_CITY_KM for c in cities)  # type: ignore[arg-type]
        )
        if near or followed:
            chosen.append(event)
    return chosen[:MAX_ITEMS]


async def host_names(session: AsyncSession, events: list[Event]) -> dict[int, str]:
    """The organisations' names of these events, by id."""
    if not events:
        return {}
    return dict((await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_({e.organisation_id for e in events}))
    )).all())  # type: ignore[arg-type]
