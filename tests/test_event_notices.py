"""Event notices go through the worker's queue: news of an approved event, cancellations and
waitlist promotions reach each member once, in their language, after their quiet hours; flood
control keeps them for later; a blocked bot marks the member inactive."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.i18n import format_when
from sandbox.client import SandboxUser
from bot.services import events as ev
from bot.services import notices
from db.models import EventStatus, Member, Notice
from db.types import utcnow
from tests.chat import messages, tr
from tests.factories import add_member, add_org, approved_event, run_notices

NEWS = "🆕 A new event you may like:"


async def follower(session, client, telegram_id: int, locale: str = "en", **fields) -> Member:  # type: ignore[no-untyped-def]
    await client.register(SandboxUser(telegram_id, f"M{telegram_id}", language_code=locale))
    return await add_member(session, telegram_id, locale, timezone="Asia/Almaty", **fields)


async def test_news_reaches_each_follower_once_in_their_language_and_zone(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    kazakh, turkish = await follower(session, client, 7001, "kk"), await follower(session, client, 7002, "tr")
    for member in (kazakh, turkish):
        await ev.follow(session, member, organisation_id=org.id)
    event = await approved_event(session, org)
    await session.commit()
    assert await run_notices(running_bot) == 2
    assert await run_notices(running_bot) == 0, "a second tick sends nothing again"
    for member, locale in ((kazakh, "kk"), (turkish, "tr")):
        [news] = messages(await client.transcript(member.telegram_id))
        assert news["plain"].startswith(tr(NEWS, locale)) and format_when(event.starts_at, locale, "Asia/Almaty", "full") in news["plain"]
        assert tr("Going", locale) in [b["text"] for row in news["reply_markup"]["inline_keyboard"] for b in row]


async def test_quiet_hours_defer_the_news_until_they_end(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    local = now.astimezone(ev.zone_of("Asia/Almaty"))
    start, end = (local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M")
    org = await add_org(session)
    sleeper = await follower(session, client, 7101, quiet_start=start, quiet_end=end)
    await ev.follow(session, sleeper, organisation_id=org.id)
    await approved_event(session, org, starts_at=now + timedelta(days=4))
    await session.commit()
    assert await run_notices(running_bot, now) == 0
    assert messages(await client.transcript(7101)) == [], "nothing during quiet hours"
    assert await run_notices(running_bot, now + timedelta(minutes=30)) == 0
    assert await run_notices(running_bot, now + timedelta(hours=1, minutes=5)) == 1, "deferred, not dropped"
    assert messages(await client.transcript(7101))[0]["plain"].startswith(tr(NEWS))


async def test_flood_control_keeps_the_notice_and_a_blocked_bot_marks_the_member_inactive(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    flooded, gone = await follower(session, client, 7201), await follower(session, client, 7202)
    for member in (flooded, gone):
        await ev.follow(session, member, organisation_id=org.id)
    await approved_event(session, org)
    await session.commit()
    await client.set_failure(7201, "retry_after", count=1, retry_after=1)
    await client.set_failure(7202, "blocked")
    assert await client.idle()  # the my_chat_member update of the block
    assert await run_notices(running_bot) == 0, "flood control: the tick stops and keeps the rest"
    assert await run_notices(running_bot) == 1, "the next tick sends it"
    assert messages(await client.transcript(7201))[0]["plain"].startswith(tr(NEWS))
    async with session_factory() as fresh:
        statuses = dict((await fresh.execute(select(Notice.member_id, Notice.status))).all())
        assert statuses.get(flooded.id) == "sent"
        member = await fresh.get(Member, gone.id)
        assert member.is_active is False and statuses.get(gone.id) in (None, "blocked")


async def test_the_news_of_an_event_cancelled_before_it_went_out_is_not_sent(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    member = await follower(session, client, 7301)
    await ev.follow(session, member, organisation_id=org.id)
    event = await approved_event(session, org)
    await notices.queue_event_news(session, utcnow())
    event.status = EventStatus.CANCELLED.value
    await session.commit()
    assert await run_notices(running_bot) == 0
    assert messages(await client.transcript(7301)) == []
    assert event.news_sent_at is not None
