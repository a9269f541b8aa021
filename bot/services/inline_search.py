"""Upcoming event cards for inline mode (`@bot berlin`): matched on the event's title, city and
organisation, Latin and Cyrillic alike (`berlin` finds `Берлин`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.geo.text import to_latin
from db.models import Event, EventStatus, Organisation

RESULTS_MAX = 20
CANDIDATES = 500  # upcoming events looked at, soonest first
QUERY_MAX = 64  # longer queries are cut (a title or a city is shorter)


def query_key(query: str | None) -> str | None:
    """The search key of a typed query; None for nothing searchable (empty, punctuation, emoji, other scripts)."""
    key = to_latin((query or "")[:QUERY_MAX])
    return key if len(key.replace(" ", "")) >= 2 else None


async def upcoming_matches(session: AsyncSession, query: str | None, now: datetime) -> list[tuple[Event, Organisation]]:
    """Approved upcoming events whose title, city or organisation contains the query."""
    key = query_key(query)
    if key is None:
        return []
    rows = (await session.execute(
        select(Event, Organisation).join(Organisation, Organisation.id == Event.organisation_id)
        .where(Event.status == EventStatus.APPROVED.value, Event.starts_at > now, Organisation.is_active.is_(True))
        .order_by(Event.starts_at, Event.id).limit(CANDIDATES)
    )).all()
    found = []
    for event, organisation in rows:
        names = [event.title, event.city or "", organisation.name, *(organisation.name_translations or {}).values()]
        if any(key in to_latin(str(name)) for name in names):
            found.append((event, organisation))
            if len(found) >= RESULTS_MAX:
                break
    return found
