"""Organisers write to their attendees through the sandbox: exactly the chosen answers, each in
their language (else the first written), through the delivery engine, within the daily cap."""

from __future__ import annotations

import asyncio

import pytest

from sqlalchemy import select

from sandbox.client import SandboxUser
from bot.services import attendee_messages as am
from bot.services import events as ev
from db.models import AttendeeMessage, Rsvp, RsvpStatus
from db.types import utcnow
from jobs.announcements import tick as announcements_tick
from jobs.context import JobContext
from tests.test_events_e2e import add_member, add_org, appoint, approved_event, messages, tr

REP = SandboxUser(7101, "Organiser")
GOING_KK = SandboxUser(7102, "Asel", language_code="kk")
MAYBE_RU = SandboxUser(7103, "Olga", language_code="ru")
WAITING_TR = SandboxUser(7104, "Ayşe", language_code="tr")
NOT_GOING = SandboxUser(7105, "Nope")
SILENT = SandboxUser(7106, "Never answered")


async def seed(session, client):  # type: ignore[no-untyped-def]
    org = await add_org(session, name="Ala-Too")
    event = await approved_event(session, org, capacity=1)
    rep = await add_member(session, REP)
    await appoint(session, rep, org)
    answers = ((GOING_KK, "kk", RsvpStatus.GOING.value, False), (MAYBE_RU, "ru", RsvpStatus.MAYBE.value, False),
               (WAITING_TR, "tr", RsvpStatus.GOING.value, True), (NOT_GOING, "en", RsvpStatus.NOT_GOING.value, False))
    for user, locale, status, waitlisted in answers:
        member = await add_member(session, user, locale)
        session.add(Rsvp(event_id=event.id, member_id=member.id, status=status, waitlisted=waitlisted, guests=0))
    await add_member(session, SILENT)
    await session.commit()
    for user in (REP, GOING_KK, MAYBE_RU, WAITING_TR, NOT_GOING, SILENT):
        await client.register(user)
    return org, event


async def compose(client, text_en: str, text_kk: str | None = None) -> list[dict]:  # type: ignore[type-arg]
    await client.send(REP, "/my_events")
    await client.press(REP, tr("✉️ Message attendees"))
    await client.press(REP, tr("Waitlist") + " (1)")  # Going is chosen already; add the waitlist
    await client.press(REP, tr("Next ▶"))
    preview = await client.send(REP, text_en)
    if text_kk is not None:
        await client.press(REP, tr("➕ Add a language"))
        await client.press(REP, "Қазақ тілі")
        preview = await client.send(REP, text_kk)
    return preview


async def test_attendees_with_the_chosen_answers_get_the_message_in_their_language(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    _org, event = await seed(session, client)
    preview = await compose(client, "The hall changed: <b>room 2</b> & bring tea", "Зал ауысты: <b>2-бөлме</b>")
    shown = [m["plain"] for m in messages(preview)]
    assert "Зал ауысты: 2-бөлме" in shown
    assert messages(preview)[-1]["plain"] == tr("It goes to {count} people who answered the event.").format(count=2)
    await client.press(REP, tr("📨 Send to {count} people").format(count=2))

    context = JobContext(running_bot.settings, session_factory, running_bot.bot, running_bot.app.i18n)
    await asyncio.gather(*await announcements_tick(context))
    kk = messages(await client.transcript(GOING_KK.id))
    tr_ = messages(await client.transcript(WAITING_TR.id))
    assert [m["plain"] for m in kk] == ["Зал ауысты: 2-бөлме"]
    assert [m["plain"] for m in tr_] == ["The hall changed: room 2 & bring tea"]  # no Turkish text: the first one
    for user in (MAYBE_RU, NOT_GOING, SILENT):
        assert not messages(await client.transcript(user.id)), user.first_name
    async with session_factory() as fresh:
        log = (await fresh.scalars(select(AttendeeMessage))).all()
        assert [(row.event_id, row.recipients, row.statuses) for row in log] == [(event.id, 2, ["going", "waitlisted"])]


async def test_attendees_get_the_message_at_once_when_the_bot_runs_the_worker(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session, client)
    context = JobContext(running_bot.settings, session_factory, running_bot.bot, running_bot.app.i18n)
    started: list[asyncio.Task[None]] = []

    async def nudge_worker() -> None:  # as bot/process.py wires it when the process runs the worker too
        started.extend(await announcements_tick(context))

    running_bot.app.dispatcher["nudge_worker"] = nudge_worker
    await compose(client, "Doors open at six")
    await client.press(REP, tr("📨 Send to {count} people").format(count=2))
    try:  # no tick of the worker's schedule: only the nudge after the send's commit
        received = await client.wait_for(GOING_KK.id, lambda entries: bool(messages(entries)), timeout=10)
    finally:
        await asyncio.gather(*started)
    assert [m["plain"] for m in messages(received)] == ["Doors open at six"]


async def test_the_daily_cap_refuses_one_message_too_many(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    _org, event = await seed(session, client)
    cap = running_bot.settings.attendee_messages_per_day
    for _ in range(cap):
        session.add(AttendeeMessage(event_id=event.id, statuses=["going"], recipients=1, created_at=utcnow()))
    await session.commit()
    await compose(client, "One more")
    answer = await client.press(REP, tr("📨 Send to {count} people").format(count=2))
    alert = [e["text"] for e in answer if e.get("type") == "callback_answer"]
    assert alert == [tr("You can write to this event's attendees at most {count} times a day. Please try again tomorrow.").format(count=cap)]
    async with session_factory() as fresh:
        assert await am.sent_recently(fresh, event.id, utcnow()) == cap


async def test_only_a_representative_of_the_organisation_may_write(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    event = await approved_event(session, org)
    stranger = await add_member(session, SandboxUser(7199, "Stranger"))
    with pytest.raises(ev.NotAllowed):
        await am.send(session, stranger, event.id, ["going"], {"en": "hi"}, utcnow(), 5)
