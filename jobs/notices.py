"""The worker's rounds of the one sender (bot/notify.py): every due notice of the queue, whatever
queued it (event news, cancellations, promotions, reminders, digests, freshness asks, notices to
the secretariat and representatives), through the process's rate gate.

The jobs that queue notices (jobs/event_news.py, digest.py, freshness.py, reminders.py) end with a
round; jobs/event_news.py's tick, every few seconds, takes up what a round left: flood control,
quiet hours, retries, a crash. Event notices are rendered here, when they are sent, in each
member's language and zone; the others carry the text they were queued with.
"""

from __future__ import annotations

from datetime import datetime

from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import create_i18n
from bot.notify import Resolve, Round, render_for, send_due
from bot.services.notices import DueNotice
from bot.views.events import cancelled_text, new_event_text, promoted_text, rsvp_keyboard
from db.models import EventStatus, NoticeKind, Organisation
from db.types import utcnow
from jobs.context import JobContext
from jobs.delivery import gate_for


def event_renderer(i18n: object) -> Resolve:
    """Texts of the notices about events, rendered when sent (None: it no longer applies)."""

    async def resolve(session: AsyncSession, item: DueNotice) -> tuple[str, InlineKeyboardMarkup | None] | None:
        event, member, kind = item.event, item.member, item.notice.kind
        if event is None or member is None:
            return None
        if kind == NoticeKind.EVENT_NEWS.value:
            if event.status != EventStatus.APPROVED.value:
                return None
            host = await session.get(Organisation, event.organisation_id)
            return render_for(i18n, member, lambda locale, zone: (new_event_text(event, host, locale, zone),  # type: ignore[arg-type]
                                                                 rsvp_keyboard(event, None)))
        if kind == NoticeKind.EVENT_CANCELLED.value:
            return render_for(i18n, member, lambda locale, zone: (cancelled_text(event, locale, zone), None))  # type: ignore[arg-type]
        if kind == NoticeKind.WAITLIST_PROMOTED.value:
            return render_for(i18n, member, lambda locale, zone: (promoted_text(event, locale, zone), None))  # type: ignore[arg-type]
        return None

    return resolve


async def send_round(context: JobContext, now: datetime | None = None) -> Round:
    """Send every notice that is due now; what flood control or quiet hours hold stays queued."""
    if context.bot is None:
        return Round()
    i18n = context.i18n or create_i18n(context.settings.default_locale)
    clock = (lambda: now) if now is not None else utcnow
    async with context.session_factory() as session:
        return await send_due(context.bot, session, gate=gate_for(context.bot, context.settings.broadcast_rate),
                              resolve=event_renderer(i18n), clock=clock)
