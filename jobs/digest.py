"""The weekly digest: on Monday from 09:00 member-local, the coming week's events near the
member and from what they follow, in their language. Opt-in (Member.digest_weekly).

Each due digest is queued (bot/services/notices.py) in the transaction that marks the member's
Monday, then a round of the one sender (jobs/notices.py) sends it: quiet hours defer it to their
end, flood control leaves the rest for the next notices tick, a blocked bot marks the member
inactive, and a crash neither loses a digest nor sends one twice."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.i18n import create_i18n
from bot.notify import as_payload, render_for
from bot.services import notices
from bot.services.digest import digest_due, host_names, subscribers, week_events
from bot.views.notices import digest_text
from db.models import NoticeKind
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.notices import send_round

log = logging.getLogger(__name__)
COMMIT_EVERY = 100  # members marked and queued per transaction


async def queue_digests(context: JobContext, now: datetime) -> int:
    """Mark every member whose digest is due and queue it (none when the week has no events)."""
    i18n = context.i18n or create_i18n(context.settings.default_locale)
    queued = 0
    async with context.session_factory() as session:
        for count, member in enumerate(await subscribers(session, now), start=1):
            monday = digest_due(member, now)
            if monday is None:
                continue
            member.last_digest_on = monday
            events = await week_events(session, member, now)
            if events:  # no empty digests
                hosts = await host_names(session, events)
                text = render_for(i18n, member, lambda locale, zone: (digest_text(events, hosts, locale, zone), None))[0]
                queued += await notices.queue_message(session, NoticeKind.DIGEST, member.telegram_id, member, as_payload(text, None),
                                                      now, subject=f"digest:{monday.isoformat()}") is not None
            if count % COMMIT_EVERY == 0:
                await session.commit()
        await session.commit()
    return queued


async def run_digest(context: JobContext, now: datetime) -> int:
    """Queue the digests due now, then send what is due; returns how many digests this round delivered."""
    if context.bot is None:
        return 0
    queued = await queue_digests(context, now)
    done = await send_round(context, now)
    if queued:
        log.info("digest: %d queued, %d sent now", queued, done.sent[NoticeKind.DIGEST.value])
    return done.sent[NoticeKind.DIGEST.value]


async def digest_job() -> None:
    """Scheduled entry point: every 15 minutes (time zones with half-hour offsets included)."""
    await run_digest(get_context(), utcnow())
