"""The one sender (bot/notify.py, jobs/notices.py): digests, freshness asks and notices about
someone's action go through the notices queue and the rate gate. Flood control in the middle of
a round, a blocked member, quiet hours, a crash, and two senders at once: everyone still gets
each message exactly once, in their language."""

from __future__ import annotations

import asyncio
import math
import os
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bot.app import create_bot
from bot.notify import FLUSH_EVERY, send_due, tell_secretariat
from bot.rate_gate import RateGate, gate_for, workers_for
from sandbox.client import SandboxUser
from bot.services.notices import CLAIM_TTL
from db.models import AuditEntry, DeliveryStatus, Event, Member, Notice, NoticeKind, Organisation
from db.types import utcnow
from jobs import event_news
from jobs.context import JobContext
from jobs.digest import queue_digests, run_digest
from jobs.freshness import run_freshness
from jobs.notices import event_renderer
from tests.chat import I18N, messages, texts, tr
from tests.conftest import ROOT
from tests.factories import add_member, appoint, make_secretariat
from tests.processes import WarmProcess

MONDAY_0901_ALMATY = datetime(2026, 11, 30, 4, 1, tzinfo=timezone.utc)  # Almaty is UTC+5
DIGEST = "<b>This week near you</b>"
ASK = ("Every three months we ask representatives to check their organisation's entry in the directory.\n\n"
       "Is the entry for <b>{name}</b> still correct?\n\n"
       "If nobody answers three requests, the entry is hidden from the directory.")


@pytest.fixture
async def context(bot_settings, session_factory):  # type: ignore[no-untyped-def]
    bot = create_bot(bot_settings)
    yield JobContext(bot_settings, session_factory, bot, I18N)
    await bot.session.close()


def heading(locale: str) -> str:
    return tr(DIGEST, locale).replace("<b>", "").replace("</b>", "")


async def digest_readers(session, client, count: int, *, start: int, locales=("kk", "tr", "ru"), **fields) -> list[Member]:  # type: ignore[no-untyped-def]
    """Members in Almaty who asked for the digest, and an event there in the coming week."""
    org = Organisation(name="Qazaq Üyi", category="cultural_centre", latitude=43.24, longitude=76.90, city="Almaty", country_code="KZ")
    session.add(org)
    await session.flush()
    session.add(Event(organisation_id=org.id, title="Nauryz <concert>", starts_at=MONDAY_0901_ALMATY + timedelta(days=2),
                      timezone="Asia/Almaty", latitude=43.24, longitude=76.90, status="approved"))
    readers = []
    for index in range(count):
        locale = locales[index % len(locales)]
        await client.register(SandboxUser(start + index, f"R{index}", language_code=locale))
        values = dict(timezone="Asia/Almaty", latitude=43.25, longitude=76.92, radius_km=25, digest_weekly=True,
                      registered_at=MONDAY_0901_ALMATY - timedelta(days=30))
        values.update(fields)
        readers.append(await add_member(session, start + index, locale, **values))
    await session.commit()
    return readers


async def digests_of(client, member: Member) -> list[str]:  # type: ignore[no-untyped-def]
    return [text for text in texts(await client.transcript(member.telegram_id)) if text.startswith(heading(member.locale))]


async def notice_statuses(session_factory, kind: NoticeKind) -> dict[int, str]:  # type: ignore[no-untyped-def]
    async with session_factory() as fresh:
        return dict((await fresh.execute(select(Notice.chat_id, Notice.status).where(Notice.kind == kind.value))).all())


# ---------------------------------------------------------------- flood control, blocked, quiet hours


async def test_flood_control_in_the_middle_of_a_digest_round_loses_nobody(context, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    readers = await digest_readers(session, client, 12, start=20_000)
    await client.set_failure(readers[2].telegram_id, "retry_after", count=1, retry_after=1)
    sent_first = await run_digest(context, MONDAY_0901_ALMATY)
    # The round stops at the 429: the whole bot waits (the gate is paused), and only the sends
    # already on their way when the answer came (the gate's first burst) still land.
    assert 2 <= sent_first < len(readers) - 1 - workers_for(context.settings.broadcast_rate), sent_first
    assert gate_for(context.bot, context.settings.broadcast_rate).paused_for() > 0
    assert await digests_of(client, readers[2]) == []
    # The worker's notices tick, a few seconds later, sends the rest once the pause is over.
    assert await event_news.tick(context, MONDAY_0901_ALMATY + timedelta(seconds=5)) == len(readers) - sent_first
    assert await run_digest(context, MONDAY_0901_ALMATY + timedelta(minutes=15)) == 0, "nobody is due twice"
    for member in readers:
        [digest] = await digests_of(client, member)
        assert "Nauryz <concert>" in digest, member.locale
    assert set((await notice_statuses(session_factory, NoticeKind.DIGEST)).values()) == {"sent"}


async def test_a_member_who_blocked_the_bot_is_marked_inactive_and_the_digest_goes_on(context, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    gone, staying = await digest_readers(session, client, 2, start=20_100)
    await client.set_failure(gone.telegram_id, "blocked")
    assert await run_digest(context, MONDAY_0901_ALMATY) == 1
    assert len(await digests_of(client, staying)) == 1
    async with session_factory() as fresh:
        assert (await fresh.get(Member, gone.id)).is_active is False
        assert await fresh.scalar(select(AuditEntry.actor_id).where(AuditEntry.action == "member.blocked_bot")) == gone.id
    assert (await notice_statuses(session_factory, NoticeKind.DIGEST))[gone.telegram_id] == DeliveryStatus.BLOCKED.value


async def test_quiet_hours_defer_the_digest_until_they_end(context, client, session) -> None:  # type: ignore[no-untyped-def]
    [sleeper] = await digest_readers(session, client, 1, start=20_200, quiet_start="08:00", quiet_end="10:00")
    assert await run_digest(context, MONDAY_0901_ALMATY) == 0
    assert await event_news.tick(context, MONDAY_0901_ALMATY + timedelta(minutes=30)) == 0
    assert await digests_of(client, sleeper) == [], "nothing during quiet hours"
    assert await event_news.tick(context, MONDAY_0901_ALMATY + timedelta(hours=1, minutes=5)) == 1, "deferred, not dropped"
    [digest] = await digests_of(client, sleeper)
    assert "Nauryz <concert>" in digest


async def test_flood_control_in_the_middle_of_a_freshness_round_asks_each_representative_once(context, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    reps = []
    for index, locale in enumerate(("ky", "az", "uz", "tk")):
        org = Organisation(name=f"Org {index}", category="culture", created_at=now - timedelta(days=400))
        session.add(org)
        await session.flush()
        await client.register(SandboxUser(20_300 + index, f"Rep {index}", language_code=locale))
        rep = await add_member(session, 20_300 + index, locale)
        await appoint(session, rep, org)
        reps.append((rep, org))
    await session.commit()
    await client.set_failure(reps[1][0].telegram_id, "retry_after", count=1, retry_after=1)
    await run_freshness(context, now)
    first = [len(messages(await client.transcript(rep.telegram_id))) for rep, _ in reps]
    assert first[:2] == [1, 0], "stopped at the 429 (what was on its way already may land)"
    assert gate_for(context.bot, context.settings.broadcast_rate).paused_for() > 0, "the whole bot waits"
    assert await event_news.tick(context, now + timedelta(seconds=5)) == 4 - sum(first), "the next tick sends the rest"
    await run_freshness(context, now + timedelta(hours=2))  # the same day: asks nobody again
    for rep, org in reps:
        asks = texts(await client.transcript(rep.telegram_id))
        assert asks == [tr(ASK, rep.locale).format(name=org.name).replace("<b>", "").replace("</b>", "")]
        async with session_factory() as fresh:
            assert (await fresh.get(Organisation, org.id)).confirm_asks == 1


# ---------------------------------------------------------------- crashes and concurrent senders


class Crash(BaseException):
    """The process dies (nothing below catches a BaseException)."""


class DiesAfter:
    """The worker's gate, in a process that dies after `sends` messages, between two of them."""

    def __init__(self, sends: int) -> None:
        self.gate, self.left = RateGate(100.0), sends

    async def acquire(self, chat_id: int, *, track: bool = False) -> int | None:
        if self.left == 0:
            raise Crash()
        self.left -= 1
        return await self.gate.acquire(chat_id, track=track)

    def finished(self, token: int | None) -> None:
        self.gate.finished(token)

    def pause(self, seconds: float) -> None:
        self.gate.pause(seconds)

    def paused_for(self) -> float:
        return self.gate.paused_for()


async def test_a_crash_mid_round_loses_nothing_and_repeats_only_what_was_sent_and_not_recorded(
        context, bot_settings, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    readers = await digest_readers(session, client, 6, start=20_400)
    assert await queue_digests(context, MONDAY_0901_ALMATY) == 6
    async with session_factory() as own:
        with pytest.raises(Crash):
            await send_due(context.bot, own, gate=DiesAfter(2), resolve=event_renderer(I18N), clock=lambda: MONDAY_0901_ALMATY)
    before = [len(await digests_of(client, member)) for member in readers]
    assert before[2:] == [0, 0, 0, 0], "two sends got through the gate before the process died"
    # A new process: what the dead one had claimed waits until its claim expires, then goes out once.
    bot = create_bot(bot_settings)
    try:
        restarted = JobContext(bot_settings, session_factory, bot, I18N)
        assert await event_news.tick(restarted, MONDAY_0901_ALMATY + timedelta(minutes=1)) == 0
        assert await run_digest(restarted, MONDAY_0901_ALMATY + timedelta(minutes=5)) == 0, "already queued: not again"
        assert await event_news.tick(restarted, MONDAY_0901_ALMATY + CLAIM_TTL + timedelta(minutes=1)) == 6
    finally:
        await bot.session.close()
    # The two sends on their way when it died were never recorded: they go again (the cost of
    # batching, as in the delivery engine); everyone else gets the digest exactly once.
    assert [len(await digests_of(client, member)) for member in readers] == [1 + n for n in before[:2]] + [1, 1, 1, 1]


@pytest.mark.slow
@pytest.mark.xdist_group("warm-process-server")
async def test_a_killed_worker_loses_no_digest_and_repeats_at_most_what_was_sent_and_not_recorded(
        context, client, session, session_factory, database_url, sandbox) -> None:  # type: ignore[no-untyped-def]
    readers = await digest_readers(session, client, 60, start=20_500)
    assert await queue_digests(context, MONDAY_0901_ALMATY) == 60
    process = WarmProcess([database_url, sandbox.base_url, sandbox.token, MONDAY_0901_ALMATY.isoformat(), "20"],
                          dict(os.environ), script=ROOT / "tests" / "notice_process.py")
    try:
        before = (await client.stats())["sent_messages"]
        for _ in range(600):  # kill it part of the way through, however slow the machine
            if (await client.stats())["sent_messages"] >= before + 10:
                break
            await asyncio.sleep(0.05)
        process.kill()
    finally:
        process.wait(timeout=30)
    received = [len(await digests_of(client, member)) for member in readers]
    assert 0 < sum(received) < len(readers), "killed half-way"
    await event_news.tick(context, MONDAY_0901_ALMATY + CLAIM_TTL + timedelta(minutes=1))
    received = [len(await digests_of(client, member)) for member in readers]
    assert min(received) == 1, "nobody is lost"
    # Outcomes are committed every FLUSH_EVERY: at most that much sending at 20/s, plus the sends
    # on their way, can have been sent and not recorded, and only those go again.
    assert sum(received) - len(readers) <= math.ceil(20 * FLUSH_EVERY) + workers_for(20)


async def test_two_senders_at_once_never_send_the_same_notice(context, bot_settings, client, session) -> None:  # type: ignore[no-untyped-def]
    readers = await digest_readers(session, client, 12, start=20_700)
    assert await queue_digests(context, MONDAY_0901_ALMATY) == 12
    other_bot = create_bot(bot_settings)  # another process's worker, or a handler's sender
    try:
        other = JobContext(bot_settings, context.session_factory, other_bot, I18N)
        sent = await asyncio.gather(event_news.tick(context, MONDAY_0901_ALMATY), event_news.tick(other, MONDAY_0901_ALMATY))
    finally:
        await other_bot.session.close()
    assert sum(sent) == 12
    for member in readers:
        assert len(await digests_of(client, member)) == 1


# ---------------------------------------------------------------- a notice about someone's action


async def test_a_role_notice_waits_for_the_end_of_quiet_hours_and_comes_in_the_members_language(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    local = now.astimezone(timezone(timedelta(hours=6)))  # Asia/Bishkek, no daylight saving
    quiet = {"quiet_start": (local - timedelta(hours=1)).strftime("%H:%M"), "quiet_end": (local + timedelta(hours=1)).strftime("%H:%M")}
    secretary, sleeper = SandboxUser(900, "Secretariat"), SandboxUser(20_800, "Aibek", language_code="ky")
    for user in (secretary, sleeper):
        await client.register(user)
    await add_member(session, secretary.id)
    await add_member(session, sleeper.id, "ky", timezone="Asia/Bishkek", **quiet)
    org = Organisation(name="Ala-Too <b>&", category="culture")
    session.add(org)
    await session.commit()
    replies = await client.send(secretary, f"/grant {sleeper.id} {org.id}")
    assert str(sleeper.id) in texts(replies)[0]
    assert messages(await client.transcript(sleeper.id)) == [], "quiet hours: it waits"
    context = JobContext(running_bot.settings, running_bot.app.session_factory, running_bot.bot, running_bot.app.i18n)
    assert await event_news.tick(context, now + timedelta(minutes=30)) == 0
    assert await event_news.tick(context, now + timedelta(hours=1, minutes=5)) == 1
    granted = tr("You now represent <b>{name}</b>. Send /submit_event to add its events, /my_events to manage them.", "ky")
    assert texts(await client.transcript(sleeper.id)) == [granted.format(name="Ala-Too <b>&").replace("<b>", "", 1).replace("</b>", "", 1)]


async def test_the_secretariat_hears_each_in_their_own_language(context, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    listed, granted = SandboxUser(900, "Listed"), SandboxUser(20_900, "Granted", language_code="kk")
    for user in (listed, granted):
        await client.register(user)
    await make_secretariat(session, await add_member(session, granted.id, "kk"))
    await session.commit()
    alert = "This menu has expired. Please start again."
    async with session_factory() as own:
        delivered = await tell_secretariat(context.bot, own, I18N, frozenset({900}), lambda locale, zone: (tr(alert, locale), None))
        await own.commit()
    assert delivered == 2
    assert texts(await client.transcript(900)) == [tr(alert)], "a listed id without a member row: the default language"
    assert texts(await client.transcript(granted.id)) == [tr(alert, "kk")]
    assert set((await notice_statuses(session_factory, NoticeKind.DIRECT)).values()) == {"sent"}


# ---------------------------------------------------------------- batches, a 403 in a reply, retention


async def test_a_round_sends_concurrently_at_the_gates_rate_not_one_round_trip_at_a_time(
        context, client, session, session_factory, sandbox) -> None:  # type: ignore[no-untyped-def]
    readers = await digest_readers(session, client, 120, start=21_000, locales=("kk", "tr", "ru", "uz"))
    assert await queue_digests(context, MONDAY_0901_ALMATY) == 120
    sandbox.api_latency = 0.05  # as over a real network: one at a time would take 120 × 50 ms and more
    try:
        started = asyncio.get_running_loop().time()
        async with session_factory() as own:
            done = await send_due(context.bot, own, gate=RateGate(200.0), clock=lambda: MONDAY_0901_ALMATY)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        sandbox.api_latency = 0.0
    assert done.total == 120 and not done.paused
    assert elapsed < 3.0, elapsed
    for member in readers:
        [digest] = await digests_of(client, member)
        assert "Nauryz <concert>" in digest
    assert set((await notice_statuses(session_factory, NoticeKind.DIGEST)).values()) == {"sent"}


async def test_a_reply_refused_with_403_marks_the_member_inactive_and_closes_what_was_queued_for_them(
        running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(21_200, "Aigerim", language_code="kk")
    await client.register(user)
    member = await add_member(session, user.id, "kk", timezone="Asia/Almaty", quiet_start="00:00", quiet_end="23:59")
    await session.commit()
    async with session_factory() as own:  # a notice waiting for the end of their quiet hours
        queued = await notify_rendered(own, member)
        await own.commit()
    await client.set_failure(user.id, "blocked")
    await client.idle()
    # They wrote just before blocking the bot: the answer is refused, and the error handler takes
    # the sender's path for a 403.
    await client.inject("message", {
        "message_id": 1, "date": int(utcnow().timestamp()), "chat": {"id": user.id, "type": "private"},
        "from": {"id": user.id, "is_bot": False, "first_name": user.first_name, "language_code": "kk"},
        "text": "/help", "entities": [{"type": "bot_command", "offset": 0, "length": 5}]}, user.id, settle=0.2)
    async with session_factory() as fresh:
        assert (await fresh.get(Member, member.id)).is_active is False
        assert (await fresh.get(Notice, queued)).status == DeliveryStatus.BLOCKED.value
        assert await fresh.scalar(select(AuditEntry.actor_id).where(AuditEntry.action == "member.blocked_bot")) == member.id


async def notify_rendered(session, member: Member) -> int:  # type: ignore[no-untyped-def]
    from bot.notify import as_payload
    from bot.services import notices

    notice = await notices.queue_message(session, NoticeKind.DIRECT, member.telegram_id, member,
                                         as_payload(tr("Your answer is saved.", "kk"), None), utcnow())
    assert notice is not None and notice.not_before is not None
    return notice.id


async def test_finished_notices_are_forgotten_after_thirty_days_and_pending_ones_kept(context, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    member = await add_member(session, 21_300, "tr")
    ages = {"sent": 31, "blocked": 40, "failed": 31, "pending": 45}
    for status, days in ages.items():
        for age in (days, 29):
            session.add(Notice(kind=NoticeKind.DIRECT.value, chat_id=member.telegram_id, member_id=member.id,
                               subject=f"{status}:{age}", status=status, attempts=1, created_at=now - timedelta(days=age),
                               sent_at=now - timedelta(days=age) if status == "sent" else None,
                               not_before=now + timedelta(hours=1) if status == "pending" else None))
    await session.commit()
    assert await notice_purge(context, now) == 3
    async with session_factory() as fresh:
        left = set(await fresh.scalars(select(Notice.subject).where(Notice.member_id == member.id)))
    assert left == {"sent:29", "blocked:29", "failed:29", "pending:29", "pending:45"}


async def notice_purge(context, now: datetime) -> int:  # type: ignore[no-untyped-def]
    from jobs.notices import purge_finished

    return await purge_finished(context, now, force=True)
