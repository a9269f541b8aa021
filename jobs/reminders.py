"""Event reminders, every few minutes: 24 hours and 1 hour before the start, in each member's
language and time zone. Each is queued (bot/services/notices.py) in the transaction that sets its
flag on the rsvps row, then a round of the one sender (jobs/notices.py) sends it; a restart
neither repeats nor loses one. Reminders are urgent: the event is within a day, so quiet hours
do not hold them (as they never did)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.i18n import create_i18n
from bot.notify import as_payload, render_for
from bot.services import notices
from bot.services.events import due_reminders, mark_reminded
from bot.views.events import reminder_keyboard, reminder_text
from db.models import NoticeKind
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.notices import send_round

log = logging.getLogger(__name__)

# Reminders are due within a window, so the job must run well inside an hour.
INTERVAL_MINUTES = 5


async def send_reminders_job() -> None:
    """Scheduled entry point of run_reminders."""
    await run_reminders(get_context(), utcnow())


async def queue_reminders(context: JobContext, now: datetime) -> int:
    """Queue every reminder due at `now` and set its flag, together."""
    i18n = context.i18n or create_i18n(context.settings.default_locale)
    queued = 0
    async with context.session_factory() as session:
        for due in await due_reminders(session, now):
            event = due.event
            text, markup = render_for(i18n, due.member, lambda locale, zone, kind=due.kind, event=event: (
                reminder_text(event, kind, locale, zone), reminder_keyboard(event)))
            queued += await notices.queue_message(
                session, NoticeKind.EVENT_REMINDER, due.member.telegram_id, due.member, as_payload(text, markup), now,
                urgent=True, subject=f"event:{event.id}:{due.kind}", event_id=event.id) is not None
            await mark_reminded(session, due.rsvp_id, due.kind)
        await session.commit()
    return queued


async def run_reminders(context: JobContext, now: datetime) -> int:
    """Queue and send every reminder due at `now`; returns how many reminders this round delivered."""
    if context.bot is None:
        log.error("reminders: no bot in the job context, nothing sent")
        return 0
    queued = await queue_reminders(context, now)
    sent = (await send_round(context, now)).sent[NoticeKind.EVENT_REMINDER.value]
    if queued or sent:
        log.info("reminders: %d queued, %d sent", queued, sent)
    return sent
