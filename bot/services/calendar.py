"""Calendars: an event as an .ics file, and each member's personal feed behind a secret token."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.events import zone_of
from db.models import Event, EventStatus, Member, Organisation, Rsvp, RsvpStatus

PRODID = "-//Kardes//Diaspora events//EN"
UID_DOMAIN = "kardes.bot"
DEFAULT_DURATION = timedelta(hours=2)
FEED_PAST = timedelta(days=30)
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def _vevent(event: Event, organisation: Organisation | None, stamp: datetime) -> icalendar.Event:
    """One VEVENT, its times in the venue's zone (TZID) so calendars show and shift them correctly."""
    zone = zone_of(event.timezone)
    starts = event.starts_at.astimezone(zone)
    ends = (event.ends_at or event.starts_at + DEFAULT_DURATION).astimezone(zone)
    vevent = icalendar.Event()
    vevent.add("uid", f"event-{event.id}@{UID_DOMAIN}")
    vevent.add("dtstamp", stamp.astimezone(timezone.utc))
    vevent.add("dtstart", starts)
    vevent.add("dtend", ends)
    vevent.add("summary", event.title)
    if event.description:
        vevent.add("description", event.description + (f"\n\n{event.link}" if event.link else ""))
    place = ", ".join(p for p in (event.venue, event.city) if p)
    if place:
        vevent.add("location", place)
    if event.latitude is not None and event.longitude is not None:
        vevent.add("geo", (event.latitude, event.longitude))
    if event.link:
        vevent.add("url", event.link)
    if organisation is not None:
        vevent.add("organizer", f"mailto:{organisation.email}" if organisation.email else "mailto:noreply@" + UID_DOMAIN,
                   parameters={"CN": organisation.name})
    vevent.add("status", "CANCELLED" if event.status == EventStatus.CANCELLED.value else "CONFIRMED")
    vevent.add("sequence", int((event.updated_at or event.created_at or stamp).timestamp()) // 60 % 2_000_000_000)
    return vevent


def _calendar(name: str | None = None) -> icalendar.Calendar:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    if name:
        calendar.add("x-wr-calname", name)
    return calendar


def event_ics(event: Event, organisation: Organisation | None, now: datetime) -> bytes:
    """A one-event calendar file with its VTIMEZONE, for "Add to calendar"."""
    calendar = _calendar()
    calendar.add_component(_vevent(event, organisation, now))
    calendar.add_missing_timezones()
    return calendar.to_ical()


def feed_ics(events: Iterable[tuple[Event, Organisation | None]], now: datetime, name: str = "Kardeş") -> bytes:
    """A calendar of several events (the personal feed)."""
    calendar = _calendar(name)
    for event, organisation in events:
        calendar.add_component(_vevent(event, organisation, now))
    calendar.add_missing_timezones()
    return calendar.to_ical()


async def issue_token(session: AsyncSession, member: Member) -> str:
    """A new secret for the member's feed; the old address stops working."""
    member.ical_token = secrets.token_urlsafe(24)
    await session.flush()
    return member.ical_token


async def revoke_token(session: AsyncSession, member: Member) -> None:
    """Turn the member's feed off."""
    member.ical_token = None
    await session.flush()


async def member_by_token(session: AsyncSession, token: str) -> Member | None:
    """The active member whose feed this is; None for a malformed or revoked token."""
    if not TOKEN_PATTERN.match(token or ""):
        return None
    member = await session.scalar(select(Member).where(Member.ical_token == token))
    if member is None or not member.is_active or not secrets.compare_digest(member.ical_token or "", token):
        return None
    return member


async def member_feed(session: AsyncSession, token: str, now: datetime) -> bytes | None:
    """The feed behind a token: events the member goes to or may go to, from a month ago on."""
    member = await member_by_token(session, token)
    if member is None:
        return None
    rows = (await session.execute(
        select(Event, Organisation)
        .join(Rsvp, Rsvp.event_id == Event.id).outerjoin(Organisation, Organisation.id == Event.organisation_id)
        .where(
            Rsvp.member_id == member.id, Rsvp.status.in_((RsvpStatus.GOING.value, RsvpStatus.MAYBE.value)),
            Event.status.in_((EventStatus.APPROVED.value, EventStatus.CANCELLED.value)),
            Event.starts_at >= now - FEED_PAST,
        )
        .order_by(Event.starts_at, Event.id)
    )).all()
    return feed_ics([(event, organisation) for event, organisation in rows], now)
