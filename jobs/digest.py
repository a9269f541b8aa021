"""The weekly digest: on Monday from 09:00 member-local, the coming week's events near the
member and from what they follow, in their language. Opt-in (Member.digest_weekly)."""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo import distance_km, get_gazetteer
from bot.i18n import escape, format_when
from bot.services.registration import mark_blocked
from db.models import Event, EventStatus, Follow, Member, Organisation
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.delivery import gate_for

log = logging.getLogger(__name__)
DIGEST_AT = time(9, 0)
FOLLOWED_CITY_KM = 25.0
MAX_ITEMS = 15


def digest_due(member: Member, now: datetime) -> date | None:
    """The member-local Monday if it is Monday 09:00 or later there and no digest went out today."""
    local = now.astimezone(ZoneInfo(member.timezone or "UTC"))
    if local.weekday() != 0 or local.time() < DIGEST_AT or member.last_digest_on == local.date():
        return None
    return local.date()


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


def digest_text(events: list[Event], hosts: dict[int, str], member: Member, i18n) -> str:  # type: ignore[no-untyped-def]
    locale = member.locale or "en"
    lines = [i18n.gettext("<b>This week near you</b>", locale=locale)]
    for event in events:
        when = format_when(event.starts_at, locale, member.timezone or event.timezone, "medium")
        host = hosts.get(event.organisation_id, "")
        lines.append(f"📅 {when} — <b>{escape(event.title)}</b>" + (f" · {escape(host)}" if host else ""))
    lines.append(i18n.gettext("Open /nearby for details. The digest can be turned off in /settings.", locale=locale))
    return "\n".join(lines)


async def run_digest(context: JobContext, now: datetime) -> int:
    """Send every digest that is due now; returns how many were sent."""
    if context.bot is None:
        return 0
    gate = gate_for(context.bot, context.settings.broadcast_rate)
    sent = 0
    async with context.session_factory() as session:
        members = (await session.scalars(
            select(Member).where(Member.digest_weekly.is_(True), Member.is_active.is_(True), Member.registered_at.is_not(None),
                                 or_(Member.last_digest_on.is_(None), Member.last_digest_on < (now - timedelta(days=5)).date()))
        )).all()
        for member in members:
            monday = digest_due(member, now)
            if monday is None:
                continue
            member.last_digest_on = monday  # marked first: a crash must not send it twice
            await session.commit()
            events = await week_events(session, member, now)
            if not events:
                continue  # no empty digests
            hosts = dict((await session.execute(
                select(Organisation.id, Organisation.name).where(Organisation.id.in_({e.organisation_id for e in events}))
            )).all())
            await gate.acquire(member.telegram_id)
            try:
                await context.bot.send_message(member.telegram_id, digest_text(events, hosts, member, context.i18n),
                                               disable_web_page_preview=True)
                sent += 1
            except TelegramForbiddenError:
                await mark_blocked(session, member.telegram_id)
                await session.commit()
            except TelegramAPIError as error:
                log.warning("digest for member %s failed: %s", member.id, error)
    return sent


async def digest_job() -> None:
    """Scheduled entry point: every 15 minutes (time zones with half-hour offsets included)."""
    await run_digest(get_context(), utcnow())
