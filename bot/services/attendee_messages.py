"""A representative writes to the people who answered one event: Going, Maybe and/or waitlisted.

The message becomes an announcement whose deliveries are exactly those attendees (written here,
so the delivery engine never computes an audience for it: it only sends), at most a configured
number per event in any 24 hours, each attendee in their language, else the first one written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import LOCALES
from bot.services.announcements import check_text, quiet_until
from bot.services.events import check_can_manage
from db.models import (
    Announcement,
    AnnouncementStatus,
    AttendeeMessage,
    Delivery,
    DeliveryStatus,
    EventStatus,
    Member,
    Rsvp,
    RsvpStatus,
)
from db.repositories import Repo

GOING, MAYBE, WAITLISTED = "going", "maybe", "waitlisted"
AUDIENCES = (GOING, MAYBE, WAITLISTED)
CAP_WINDOW = timedelta(hours=24)


class AttendeeMessageError(ValueError):
    """Why the message cannot be sent: `code` names the reason."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def _status_clause(statuses: list[str]):  # type: ignore[no-untyped-def]
    clauses = []
    if GOING in statuses:
        clauses.append(and_(Rsvp.status == RsvpStatus.GOING.value, Rsvp.waitlisted.is_(False)))
    if MAYBE in statuses:
        clauses.append(Rsvp.status == RsvpStatus.MAYBE.value)
    if WAITLISTED in statuses:
        clauses.append(and_(Rsvp.status == RsvpStatus.GOING.value, Rsvp.waitlisted.is_(True)))
    return or_(*clauses)


async def recipients(session: AsyncSession, event_id: int, statuses: list[str]) -> list[Member]:
    """Reachable members whose answer to this event is one of the chosen statuses (never anyone else)."""
    chosen = [s for s in statuses if s in AUDIENCES]
    if not chosen:
        return []
    rows = await session.scalars(
        select(Member).join(Rsvp, Rsvp.member_id == Member.id)
        .where(Rsvp.event_id == event_id, _status_clause(chosen), Member.is_active.is_(True), Member.registered_at.is_not(None))
        .order_by(Member.id)
    )
    return list(rows)


async def counts(session: AsyncSession, event_id: int) -> dict[str, int]:
    """How many attendees each choice reaches."""
    return {status: len(await recipients(session, event_id, [status])) for status in AUDIENCES}


async def sent_recently(session: AsyncSession, event_id: int, now: datetime) -> int:
    """Messages to this event's attendees in the last 24 hours."""
    return await session.scalar(select(func.count()).select_from(AttendeeMessage).where(
        AttendeeMessage.event_id == event_id, AttendeeMessage.created_at > now - CAP_WINDOW)) or 0


def texts_for_everyone(texts: dict[str, str]) -> dict[str, str]:
    """Every locale gets its own text, else the first one written (the engine then picks the member's)."""
    given = {locale: text for locale, text in texts.items() if locale in LOCALES and text and text.strip()}
    if not given:
        raise AttendeeMessageError("empty")
    first = next(iter(given.values()))
    return {locale: given.get(locale, first) for locale in LOCALES}


@dataclass(frozen=True)
class Sent:
    announcement: Announcement
    recipients: int


async def send(session: AsyncSession, member: Member | None, event_id: int, statuses: list[str], texts: dict[str, str],
               now: datetime, per_day: int, progress: tuple[int, int] | None = None) -> Sent:
    """Queue the message for the delivery engine; refuses strangers, bad text, no recipients, and the cap."""
    event = await check_can_manage(session, member, event_id)  # a representative of the organisation only
    assert member is not None
    if event.status not in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value):
        raise AttendeeMessageError("not_listed")
    chosen = [s for s in AUDIENCES if s in statuses]
    if not chosen:
        raise AttendeeMessageError("no_status")
    checked = {locale: check_text(text) for locale, text in texts.items() if text and text.strip()}
    everyone = texts_for_everyone(checked)
    if await sent_recently(session, event_id, now) >= per_day:
        raise AttendeeMessageError("cap")
    people = await recipients(session, event_id, chosen)
    if not people:
        raise AttendeeMessageError("nobody")
    # Status "sending" with its deliveries already written: the engine never snapshots an audience for it.
    announcement = Announcement(
        created_by=member.id, texts=everyone, audience={"event_attendees": event_id, "statuses": chosen},
        status=AnnouncementStatus.SENDING.value, urgent=False, send_at=now, started_at=now,
        progress_chat_id=progress[0] if progress else None, progress_message_id=progress[1] if progress else None,
    )
    session.add(announcement)
    await session.flush()
    await session.execute(Delivery.__table__.insert(), [
        {"announcement_id": announcement.id, "member_id": person.id, "status": DeliveryStatus.PENDING.value, "attempts": 0,
         "not_before": quiet_until(person, now)}
        for person in people
    ])
    session.add(AttendeeMessage(event_id=event_id, announcement_id=announcement.id, sent_by=member.id, statuses=chosen,
                                recipients=len(people), created_at=now))
    await session.flush()
    await Repo(session).audit.record("event.attendees_messaged", actor_id=member.id, event_id=event_id,
                                     announcement_id=announcement.id, statuses=chosen, recipients=len(people))
    return Sent(announcement, len(people))
