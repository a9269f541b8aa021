"""Event reminders, every few minutes: 24 hours and 1 hour before the start, in each member's
language and time zone. Flags on the rsvps rows make a restart resume without repeating."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.i18n import create_i18n
from bot.notify import send_rendered
from bot.services.events import due_reminders, mark_reminded
from bot.views.events import reminder_keyboard, reminder_text
from db.types import utcnow
from jobs.context import JobContext, get_context

log = logging.getLogger(__name__)

# Reminders are due within a window, so the job must run well inside an hour.
INTERVAL_MINUTES = 5


async def send_reminders_job() -> None:
    """Scheduled entry point of run_reminders."""
    await run_reminders(get_context(), utcnow())


async def run_reminders(context: JobContext, now: datetime) -> int:
    """Send every reminder due at `now`; returns how many were delivered."""
    if context.bot is None:
        log.error("reminders: no bot in the job context, nothing sent")
        return 0
    i18n = create_i18n(context.settings.default_locale)
    sent = 0
    async with context.session_factory() as session:
        for due in await due_reminders(session, now):
            event = due.event
            delivered = await send_rendered(
                context.bot, session, i18n, due.member,
                lambda locale, zone, kind=due.kind, event=event: (reminder_text(event, kind, locale, zone), reminder_keyboard(event)),
            )
            # A member who blocked the bot is marked inactive and dropped from later rounds;
            # a transient failure leaves the flag unset so the next run tries again.
            if delivered or not due.member.is_active:
                await mark_reminded(session, due.rsvp_id, due.kind)
            await session.commit()  # one at a time: a crash never repeats the ones already sent
            sent += delivered
    if sent:
        log.info("reminders: sent %d", sent)
    return sent
