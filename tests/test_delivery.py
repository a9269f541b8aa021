"""The delivery engine against the sandbox: languages, failures, quiet hours, crash and resume, schedules."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.app import create_bot
from bot.i18n import create_i18n
from bot.rate_gate import window_for
from bot.services.announcements import AnnouncementError, Draft, audience_members, audience_size, schedule
from db.models import Announcement, Delivery, Member
from db.types import utcnow
from jobs.context import JobContext
from tests.conftest import ROOT
from tests.factories import add_members, run_due
from tests.processes import WarmProcess

I18N = create_i18n()


@pytest.fixture
async def context(bot_settings, session_factory):  # type: ignore[no-untyped-def]
    settings = bot_settings.model_copy(update={"broadcast_rate": 200.0})
    bot = create_bot(settings)
    yield JobContext(settings, session_factory, bot, I18N)
    await bot.session.close()


def texts_of(entries: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [entry["plain"] for entry in entries if entry["type"] == "message"]


async def test_each_member_gets_their_language_else_english_else_the_first(context, client, session) -> None:  # type: ignore[no-untyped-def]
    kazakh = (await add_members(session, client, 1, start=10_001, locale="kk"))[0]
    turkish = (await add_members(session, client, 1, start=10_002, locale="tr"))[0]
    await schedule(session, Draft(texts={"kk": "Сәлем, <b>достар</b>!", "en": "Hello, <b>friends</b>!"}, audience={}), None)
    await session.commit()
    await run_due(context)
    assert texts_of(await client.transcript(kazakh.telegram_id)) == ["Сәлем, достар!"]
    assert texts_of(await client.transcript(turkish.telegram_id)) == ["Hello, friends!"]
    await schedule(session, Draft(texts={"ru": "Привет"}, audience={}), None)
    await session.commit()
    await run_due(context)
    assert texts_of(await client.transcript(turkish.telegram_id))[-1] == "Привет"


@pytest.mark.slow
async def test_blocked_rate_limited_failing_and_missing_chats(context, client, session) -> None:  # type: ignore[no-untyped-def]
    members = await add_members(session, client, 6)
    blocked, limited, flaky, gone, dead, fine = (m.telegram_id for m in members)
    first_id = members[0].id
    await client.set_failure(blocked, "blocked")
    await client.set_failure(limited, "retry_after", count=1, retry_after=1)
    await client.set_failure(flaky, "server_error", count=1)
    await client.set_failure(gone, "chat_not_found")
    await client.set_failure(dead, "server_error")  # never recovers
    announcement_id = (await schedule(session, Draft(texts={"en": "News"}, audience={}), None)).id
    await session.commit()
    started = utcnow()
    await run_due(context)  # the first pass, and the short retries it waits for
    later = started
    for _ in range(6):  # the dead chat's retries back off 2, 4, 8, 16 s: move the clock instead of waiting
        later += timedelta(seconds=20)
        await run_due(context, later)
    session.expire_all()
    statuses = dict((await session.execute(select(Member.telegram_id, Delivery.status).join(Delivery))).all())
    assert statuses == {blocked: "blocked", limited: "sent", flaky: "sent", gone: "failed", dead: "failed",
                        fine: "sent"}
    assert (await session.get(Member, first_id)).is_active is False
    assert texts_of(await client.transcript(limited)) == ["News"]
    assert texts_of(await client.transcript(flaky)) == ["News"]
    assert (await session.get(Announcement, announcement_id)).status == "done"
    stats = await client.stats()
    assert stats["per_chat_violations"] == 0


async def test_quiet_hours_defer_until_they_end_unless_urgent(context, client, session) -> None:  # type: ignore[no-untyped-def]
    now = utcnow().replace(second=0, microsecond=0)
    quiet = {"quiet_start": (now - timedelta(hours=1)).strftime("%H:%M"), "quiet_end": (now + timedelta(hours=1)).strftime("%H:%M"),
             "timezone": "UTC"}
    sleeper = (await add_members(session, client, 1, start=10_100, **quiet))[0]
    awake = (await add_members(session, client, 1, start=10_101))[0]
    await schedule(session, Draft(texts={"en": "Good morning"}, audience={}), None, now=now)
    await session.commit()
    await run_due(context, now)
    assert texts_of(await client.transcript(awake.telegram_id)) == ["Good morning"]
    assert texts_of(await client.transcript(sleeper.telegram_id)) == []
    await run_due(context, now + timedelta(minutes=59))
    assert texts_of(await client.transcript(sleeper.telegram_id)) == []
    await run_due(context, now + timedelta(hours=1, minutes=1))
    assert texts_of(await client.transcript(sleeper.telegram_id)) == ["Good morning"]
    await schedule(session, Draft(texts={"en": "Storm warning"}, audience={}, urgent=True), None, now=now)
    await session.commit()
    await run_due(context, now)
    assert texts_of(await client.transcript(sleeper.telegram_id))[-1] == "Storm warning"


async def test_a_scheduled_announcement_waits_for_its_time_and_survives_a_restart(context, bot_settings, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    chat = (await add_members(session, client, 1, start=10_200))[0].telegram_id
    now = utcnow()
    await schedule(session, Draft(texts={"en": "Tomorrow"}, audience={}, send_at=now + timedelta(hours=2)), None, now=now)
    await schedule(session, Draft(texts={"en": "Daily digest"}, audience={}, recurrence="daily@09:00@Asia/Almaty"), None, now=now)
    await session.commit()
    await run_due(context, now)
    assert texts_of(await client.transcript(chat)) == []
    # A new process (new bot, new context) after the time passed while nothing ran.
    bot = create_bot(bot_settings)
    try:
        restarted = JobContext(bot_settings, session_factory, bot, I18N)
        await run_due(restarted, now + timedelta(days=1, hours=1))
    finally:
        await bot.session.close()
    said = texts_of(await client.transcript(chat))
    assert sorted(said) == ["Daily digest", "Tomorrow"]
    session.expire_all()
    parent = await session.scalar(select(Announcement).where(Announcement.recurrence.is_not(None)))
    assert parent.status == "scheduled" and parent.send_at > now + timedelta(days=1, hours=1)


@pytest.mark.slow
@pytest.mark.xdist_group("warm-process-server")
async def test_crash_half_way_then_resume_loses_nothing(bot_settings, context, client, session, database_url, sandbox) -> None:  # type: ignore[no-untyped-def]
    members = await add_members(session, client, 120, start=11_000)
    chats = [member.telegram_id for member in members]
    announcement_id = (await schedule(session, Draft(texts={"en": "Once"}, audience={}), None)).id
    await session.commit()
    rate = 40.0
    process = WarmProcess([database_url, sandbox.base_url, sandbox.token, str(announcement_id), str(rate)], dict(os.environ),
                          script=ROOT / "tests" / "engine_process.py")
    try:
        before = (await client.stats())["sent_messages"]
        for _ in range(600):  # kill it once it is part of the way through, however slow the machine
            if (await client.stats())["sent_messages"] >= before + 15:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    received_before = Counter()
    for chat in chats:
        received_before[chat] = len(texts_of(await client.transcript(chat)))
    assert 0 < sum(received_before.values()) < len(chats), "killed half-way"
    await run_due(context)
    duplicates = 0
    for chat in chats:
        got = len(texts_of(await client.transcript(chat)))
        assert got >= 1, "nobody is lost"
        duplicates += got - 1
    assert duplicates <= window_for(rate)
    session.expire_all()
    assert (await session.get(Announcement, announcement_id)).status == "done"


async def test_bad_announcements_are_refused_before_scheduling(session, client) -> None:  # type: ignore[no-untyped-def]
    await add_members(session, client, 1, start=10_300)
    cases = [
        (Draft(texts={"en": "<b>unclosed"}, audience={}), "html"),
        (Draft(texts={"en": "x" * 4097}, audience={}), "too_long"),
        (Draft(texts={"en": "Hello"}, audience={}, send_at=utcnow() - timedelta(hours=1)), "past"),
        (Draft(texts={"en": "Hello"}, audience={"countries": ["JP"]}), "empty_audience"),
        (Draft(texts={"en": "  "}, audience={}), "empty"),
    ]
    for draft, code in cases:
        with pytest.raises(AnnouncementError) as error:
            await schedule(session, draft, None)
        assert error.value.code == code
    assert await audience_size(session, {"countries": ["DE"], "languages": ["kk"]}) == 0


async def test_the_composers_count_is_who_the_engine_would_send_to(session) -> None:  # type: ignore[no-untyped-def]
    """audience_size counts in the database or over a few columns; audience_members loads whole
    rows for the engine. For every kind of criterion they agree, member by member."""
    from tests.factories import add_member

    berlin, almaty = (52.52, 13.40), (43.24, 76.89)
    people = [  # country, city, origin, languages, interests, place, wants announcements, active
        ("DE", 2950159, "TR", ["tr"], ["music"], berlin, True, True),
        ("DE", 2950159, "KZ", ["kk", "ru"], ["sport"], berlin, True, True),
        ("DE", 2950159, "KZ", ["kk"], ["music"], berlin, False, True),
        ("DE", 2950159, "KZ", ["kk"], ["music"], berlin, True, False),
        ("KZ", 1526384, "KZ", ["kk"], [], almaty, True, True),
        ("FR", None, "AZ", ["az"], ["music"], None, True, True),
    ]
    for n, (country, city, origin, languages, interests, place, wanted, active) in enumerate(people):
        lat, lon = place or (None, None)
        await add_member(session, 10_400 + n, country_code=country, city_id=city, origin_country=origin, languages=languages,
                         interests=interests, latitude=lat, longitude=lon, notify_announcements=wanted, is_active=active)
    await add_member(session, 10_499, registered_at=None)  # still registering
    await session.commit()
    audiences = [
        ({}, 4), ({"countries": ["DE"]}, 2), ({"cities": [1526384]}, 1), ({"origins": ["KZ"]}, 2),
        ({"languages": ["kk"]}, 2), ({"interests": ["music"]}, 2), ({"countries": ["DE"], "languages": ["kk"]}, 1),
        ({"radius": {"lat": berlin[0], "lon": berlin[1], "km": 50}}, 2),
        ({"radius": {"lat": berlin[0], "lon": berlin[1], "km": 5000}, "languages": ["kk"]}, 2),
    ]
    for audience, expected in audiences:
        assert await audience_size(session, audience) == expected, audience
        assert len(await audience_members(session, audience)) == expected, audience
