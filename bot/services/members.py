"""Members: lookup, language choice, activity, a blocked bot, the /mydata export and erasure."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LOCALES
from bot.services.announcements import text_for
from db.models import Announcement, Delivery, Event, Follow, FsmRecord, Member, Role, Rsvp
from db.repositories import Repo
from db.types import utcnow


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


async def members_by_telegram_ids(session: AsyncSession, telegram_ids: list[int]) -> dict[int, Member]:
    """Members behind these Telegram ids (those who have none are left out)."""
    if not telegram_ids:
        return {}
    rows = await session.scalars(select(Member).where(Member.telegram_id.in_(telegram_ids)))
    return {member.telegram_id: member for member in rows}


def profile_snapshot(member: Member) -> dict[str, Any]:
    """Everything stored on the member row, as plain JSON values."""
    return {
        "telegram_id": member.telegram_id,
        "display_name": member.display_name,
        "language": member.locale,
        "registered_at": member.registered_at.isoformat() if member.registered_at else None,
        "consent": {"version": member.consent_version, "at": member.consent_at.isoformat() if member.consent_at else None},
        "place": {
            "city": member.city_name, "country": member.country_code,
            "latitude": member.latitude, "longitude": member.longitude, "timezone": member.timezone,
        },
        "sensitive_data_consent_at": member.sensitive_consent_at.isoformat() if member.sensitive_consent_at else None,
        "origin_country": member.origin_country,
        "languages": list(member.languages or []),
        "interests": list(member.interests or []),
        "notifications": {
            "announcements": member.notify_announcements, "events_near_me": member.notify_events,
            "weekly_digest": member.digest_weekly,
            "radius_km": member.radius_km, "quiet_hours": [member.quiet_start, member.quiet_end] if member.quiet_start else None,
        },
        "active": member.is_active,
        "created_at": member.created_at.isoformat() if member.created_at else None,
    }


async def export_member_data(session: AsyncSession, member: Member) -> dict[str, Any]:
    """The member's /mydata: profile, roles, RSVPs, follows and deliveries received."""
    roles = (await session.scalars(select(Role).where(Role.member_id == member.id))).all()
    deliveries = (
        await session.execute(
            select(Delivery, Announcement)
            .join(Announcement, Announcement.id == Delivery.announcement_id)
            .where(Delivery.member_id == member.id)
            .order_by(Delivery.id)
        )
    ).all()
    return {
        "format": "kardes-mydata/1",
        "exported_at": utcnow().isoformat(),
        "profile": profile_snapshot(member),
        "roles": [{"role": r.role, "organisation_id": r.organisation_id, "granted_at": r.granted_at.isoformat()} for r in roles],
        **(await member_event_data(session, member)),
        "deliveries": [
            {
                "announcement_id": d.announcement_id,
                "status": d.status,
                "sent_at": d.sent_at.isoformat() if d.sent_at else None,
                "text": text_for(a.texts, member.locale) if a.texts else None,
            }
            for d, a in deliveries
        ],
    }


async def erase_member(session: AsyncSession, member: Member) -> None:
    """Erase the member and every row that identifies them; keep only an anonymous audit line."""
    telegram_id = member.telegram_id
    await session.execute(delete(Delivery).where(Delivery.member_id == member.id))
    await session.execute(delete(Role).where(Role.member_id == member.id))
    await session.execute(delete(FsmRecord).where(FsmRecord.key.like(f"%:{telegram_id}:{telegram_id}:%")))
    await session.delete(member)
    await session.flush()
    await Repo(session).audit.record("member.erased")


async def mark_blocked(session: AsyncSession, telegram_id: int) -> bool:
    """Telegram said 403 for this member: stop sending until they write again."""
    member = await Repo(session).members.by_telegram_id(telegram_id)
    if member is None or not member.is_active:
        return False
    member.is_active = False
    await session.flush()
    await Repo(session).audit.record("member.blocked_bot", actor_id=member.id)
    return True


async def member_event_data(session: AsyncSession, member: Member) -> dict[str, Any]:
    """The member's answers and follows, for /mydata (rows go with the member on /delete by ON DELETE CASCADE)."""
    rsvps = (await session.execute(
        select(Rsvp, Event.title, Event.starts_at).join(Event, Event.id == Rsvp.event_id)
        .where(Rsvp.member_id == member.id).order_by(Rsvp.id)
    )).all()
    follows = (await session.scalars(select(Follow).where(Follow.member_id == member.id).order_by(Follow.id))).all()
    return {
        "rsvps": [
            {"event_id": r.event_id, "event": title, "starts_at": starts_at.isoformat(), "status": r.status,
             "guests": r.guests, "waitlisted": r.waitlisted}
            for r, title, starts_at in rsvps
        ],
        "follows": [{"city_id": f.city_id, "organisation_id": f.organisation_id} for f in follows],
        "reminders": member.notify_reminders,
        "calendar_feed": member.ical_token is not None,
    }
async def stored_locale(session: AsyncSession, telegram_id: int) -> str | None:
    """The language a member chose, by Telegram id (None for someone we do not know)."""
    return await session.scalar(select(Member.locale).where(Member.telegram_id == telegram_id))
