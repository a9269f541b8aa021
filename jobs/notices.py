"""The worker's rounds of the one sender (bot/notify.py): every due notice of the queue, whatever
queued it (event news, cancellations, promotions, reminders, digests, freshness asks, notices to
the secretariat and representatives), through the process's rate gate.

The jobs that queue notices (jobs/event_news.py, digest.py, freshness.py, reminders.py) end with a
round; jobs/event_news.py's tick, every few seconds, takes up what a round left: flood control,
quiet hours, retries, a crash. Event notices are rendered here, when they are sent, in each
member's language and zone; the others carry the text they were queued with. Once an hour a round
also forgets the notices finished more than notices.KEEP_FINISHED (30 days) ago.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import create_i18n, resolve_locale
from bot.notify import Resolve, Round, Text, render_for, send_due
from bot.services import notices
from bot.services.notices import DueNotice
from bot.views.events import cancelled_text, new_event_text, promoted_text, rsvp_keyboard
from db.models import Event, EventStatus, NoticeKind, Organisation
from db.types import utcnow
from jobs.context import JobContext
from jobs.delivery import gate_for

log = logging.getLogger(__name__)
PURGE_EVERY = 3600.0  # seconds between two purges of finished notices, per process
_purged_at: float | None = None


def event_renderer(i18n: object) -> Resolve:
    """Texts of the notices about events, rendered when sent (None: it no longer applies). One
    renderer per round: each text is rendered once per event, kind, language and time zone, so the
    news to 10 000 members costs a few renderings, not 10 000."""
    texts: dict[tuple[str, int, str, str | None], Text] = {}
    hosts: dict[int, Organisation | None] = {}

    def render(kind: str, event: Event, host: Organisation | None, locale: str, zone: str | None) -> Text:
        if kind == NoticeKind.EVENT_NEWS.value:
            return new_event_text(event, host, locale, zone), rsvp_keyboard(event, None)
        if kind == NoticeKind.EVENT_CANCELLED.value:
            return cancelled_text(event, locale, zone), None
        return promoted_text(event, locale, zone), None

    async def resolve(session: AsyncSession, item: DueNotice) -> Text | None:
        event, member, kind = item.event, item.member, item.notice.kind
        if event is None or member is None or kind not in RENDERED:
            return None
        if kind == NoticeKind.EVENT_NEWS.value and event.status != EventStatus.APPROVED.value:
            return None
        if event.organisation_id not in hosts:
            hosts[event.organisation_id] = await session.get(Organisation, event.organisation_id)
        key = (kind, event.id, resolve_locale(member.locale, None, i18n.default_locale), member.timezone)  # type: ignore[attr-defined]
        if key not in texts:
            texts[key] = render_for(i18n, member, lambda locale, zone: render(  # type: ignore[arg-type]
                kind, event, hosts[event.organisation_id], locale, zone))
        return texts[key]

    return resolve


RENDERED = {NoticeKind.EVENT_NEWS.value, NoticeKind.EVENT_CANCELLED.value, NoticeKind.WAITLIST_PROMOTED.value}


async def send_round(context: JobContext, now: datetime | None = None) -> Round:
    """Send every notice that is due now; what flood control or quiet hours hold stays queued."""
    if context.bot is None:
        return Round()
    i18n = context.i18n or create_i18n(context.settings.default_locale)
    clock = (lambda: now) if now is not None else utcnow
    async with context.session_factory() as session:
        done = await send_due(context.bot, session, gate=gate_for(context.bot, context.settings.broadcast_rate),
                              resolve=event_renderer(i18n), clock=clock)
    await purge_finished(context, clock())
    return done


async def purge_finished(context: JobContext, now: datetime, *, force: bool = False) -> int:
    """Forget finished notices past their keeping time (notices.purge_finished), at most once per PURGE_EVERY."""
    global _purged_at
    if not force and _purged_at is not None and time.monotonic() - _purged_at < PURGE_EVERY:
        return 0
    _purged_at = time.monotonic()
    async with context.session_factory() as session:
        removed = await notices.purge_finished(session, now)
        await session.commit()
    if removed:
        log.info("notices: forgot %d finished more than %s ago", removed, notices.KEEP_FINISHED)
    return removed
