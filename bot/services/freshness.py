"""Directory freshness: representatives confirm their organisation's entry every 90 days.

The cycle, counted from the last confirmation (or from creation when never confirmed):
ask #1 at day 90, ask #2 a week later, ask #3 another week later; a week after the third
unanswered ask the organisation is hidden (``is_active = False``) and the secretariat is told.
A confirmation at any point resets the count and starts a new 90 days.

An organisation with no reachable representative (none appointed, or all of them blocked
the bot) is still taken through the same rounds: nobody is asked, but each round counts
as unanswered. Nobody can vouch for such an entry, so it ends up hidden too, and the
secretariat's notice is how it learns that the organisation needs a representative.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Member, Organisation
from db.repositories import Repo

CONFIRM_EVERY = timedelta(days=90)
ASK_EVERY = timedelta(days=7)
MAX_ASKS = 3
# The job runs once a day but never at exactly the same second: without some slack, an ask
# sent at 09:00:02 would not be "a week old" at 09:00:01 seven days later and slip a day.
SLACK = timedelta(hours=1)


def _last_asked_a_week_ago(now: datetime) -> ColumnElement[bool]:
    return or_(Organisation.last_asked_at.is_(None), Organisation.last_asked_at <= now - ASK_EVERY + SLACK)


async def due_for_confirmation(session: AsyncSession, now: datetime) -> list[Organisation]:
    """Active organisations unconfirmed for 90 days, not asked this week, with asks left."""
    cutoff = now - CONFIRM_EVERY
    # Spelled out rather than coalesce(): the column type (and its UTC handling) stays on each side.
    unconfirmed = or_(
        Organisation.last_confirmed_at < cutoff,
        and_(Organisation.last_confirmed_at.is_(None), Organisation.created_at < cutoff),
    )
    query = (
        select(Organisation)
        .where(
            Organisation.is_active.is_(True),
            Organisation.confirm_asks < MAX_ASKS,
            unconfirmed,
            _last_asked_a_week_ago(now),
        )
        .order_by(Organisation.id)
    )
    return list(await session.scalars(query))


async def record_ask(session: AsyncSession, org: Organisation, now: datetime) -> None:
    """Count one more confirmation request (answered or not, it was sent or attempted)."""
    org.confirm_asks = (org.confirm_asks or 0) + 1
    org.last_asked_at = now
    await session.flush()


async def confirm(session: AsyncSession, org: Organisation, member: Member, now: datetime) -> None:
    """A representative vouched for the entry: a new 90 days start and the ask count resets."""
    asks = org.confirm_asks or 0
    org.confirm_asks = 0
    org.last_confirmed_at = now
    await session.flush()
    await Repo(session).audit.record("organisation.confirmed", actor_id=member.id, organisation_id=org.id, after_asks=asks)


async def hide_stale(session: AsyncSession, now: datetime) -> list[Organisation]:
    """Hide active organisations whose third ask went unanswered for a week; returns them."""
    query = (
        select(Organisation)
        .where(
            Organisation.is_active.is_(True),
            Organisation.confirm_asks >= MAX_ASKS,
            Organisation.last_asked_at.is_not(None),
            _last_asked_a_week_ago(now),
        )
        .order_by(Organisation.id)
    )
    hidden = list(await session.scalars(query))
    audit = Repo(session).audit
    for org in hidden:
        org.is_active = False
        await session.flush()
        await audit.record("organisation.hidden_stale", organisation_id=org.id, unanswered_asks=org.confirm_asks)
    return hidden
