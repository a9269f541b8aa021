"""Directory freshness, once a day: ask representatives to confirm, hide what nobody confirms.

Each ask is queued (bot/services/notices.py) in the transaction that counts it, each notice to
the secretariat in the one that hides the entry; then a round of the one sender (jobs/notices.py)
sends them through the rate gate, each in its reader's language, after their quiet hours. Flood
control leaves the rest for the next notices tick; a blocked bot marks the member inactive."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.i18n import create_i18n
from bot.notify import as_payload, render_for, speaking
from bot.services import notices
from bot.services.freshness import due_for_confirmation, hide_stale, record_ask
from bot.services.roles import representatives, secretariat_recipients
from bot.views.notices import ask_text, confirmation_keyboard, hidden_notice
from db.models import Member, NoticeKind
from db.types import utcnow
from jobs.context import JobContext, get_context
from jobs.notices import send_round

log = logging.getLogger(__name__)

# Telegram's limit is 4096 characters; notices about several organisations share a message.
MESSAGE_LIMIT = 4000


async def ask_representatives_job() -> None:
    """Scheduled entry point of run_freshness."""
    await run_freshness(get_context(), utcnow())


async def run_freshness(context: JobContext, now: datetime) -> None:
    """Queue this round's confirmation requests, hide and report organisations nobody confirmed, send."""
    if context.bot is None:
        # Counting asks that were never sent would hide organisations unfairly.
        log.error("freshness: no bot in the job context, nothing asked")
        return
    i18n = context.i18n or create_i18n(context.settings.default_locale)
    day = now.date().isoformat()
    async with context.session_factory() as session:
        asked = 0
        for org in await due_for_confirmation(session, now):
            for member in await representatives(session, org.id):
                text, markup = render_for(i18n, member, lambda locale, zone, org=org: (ask_text(org), confirmation_keyboard(org.id)))
                await notices.queue_message(session, NoticeKind.FRESHNESS_ASK, member.telegram_id, member, as_payload(text, markup),
                                            now, subject=f"ask:{org.id}:{day}", organisation_id=org.id)
            await record_ask(session, org, now)
            asked += 1
        await session.commit()  # the asks and their count together: a crash loses neither

        hidden = await hide_stale(session, now)
        reported = [(org, bool(await representatives(session, org.id))) for org in hidden]
        if reported:
            for chat_id, member in await secretariat_recipients(session, context.settings.secretariat_ids):
                reader = member or Member(telegram_id=chat_id, locale=None, timezone=None)
                with speaking(i18n, reader):
                    texts = [hidden_notice(org, had_representatives) for org, had_representatives in reported]
                for number, text in enumerate(_batched(texts)):
                    await notices.queue_message(session, NoticeKind.ORG_HIDDEN, chat_id, member, as_payload(text, None), now,
                                                subject=f"hidden:{day}:{number}")
        await session.commit()  # hidden and told together
    done = await send_round(context, now)
    if asked or hidden:
        log.info("freshness: asked about %d organisations, hid %d; %s sent now", asked, len(hidden), done.total)


def _batched(texts: list[str]) -> list[str]:
    """Texts joined into as few messages as fit: one chat, one message, where possible."""
    batches: list[str] = []
    for text in texts:
        if batches and len(batches[-1]) + 2 + len(text) <= MESSAGE_LIMIT:
            batches[-1] = f"{batches[-1]}\n\n{text}"
        else:
            batches.append(text)
    return batches
