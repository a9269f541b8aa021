"""The last places at an event under simultaneous taps, on SQLite and PostgreSQL (issue 10, item 4)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from bot.services import events as ev
from db.models import Rsvp
from db.types import utcnow
from handlers.events import render_event_card
from tests.test_events_e2e import add_member, add_org, approved_event

I18N = create_i18n()
SEATED = "See you there! We will remind you a day and an hour before."
WAITING = "The event is full: you are on the waitlist. We will tell you when a place frees up."


def answers(entries: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [entry["text"] for entry in entries if entry["type"] == "callback_answer"]


async def test_twenty_simultaneous_going_taps_for_three_places_seat_three_and_waitlist_seventeen(
        running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    users = [SandboxUser(9700 + i, f"Fan{i}", language_code="en") for i in range(20)]
    for user in users:
        await client.register(user)
    org = await add_org(session)
    members = [await add_member(session, user) for user in users]
    for member in members:
        await ev.follow(session, member, organisation_id=org.id)
    event = await approved_event(session, org, capacity=3)
    for member in members:  # everyone said Maybe first: their Going changes an answer they already gave
        await ev.set_rsvp(session, member, event.id, "maybe", 0, utcnow())
    await session.commit()
    with running_bot.app.i18n.use_locale("en"), running_bot.app.i18n.context():
        for member, user in zip(members, users):  # each of them has the event's card in their chat
            text, markup = await render_event_card(session, event, member, "en")
            await running_bot.bot.send_message(user.id, text, reply_markup=markup)
    await session.commit()

    going = I18N.gettext("Going", locale="en")
    pressed = await asyncio.gather(*(client.press(user, going, settle=0.2, timeout=20) for user in users))
    told = [answers(entries) for entries in pressed]
    assert sum(SEATED in said for said in told) == 3, told
    assert sum(WAITING in said for said in told) == 17, told

    async with session_factory() as fresh:
        rows = (await fresh.scalars(select(Rsvp).where(Rsvp.event_id == event.id))).all()
    assert sum(not row.waitlisted for row in rows) == 3 and sum(row.waitlisted for row in rows) == 17

    # A waitlisted member's card says so, instead of showing the place as theirs.
    waiting_user = next(user for user, said in zip(users, told) if WAITING in said)
    card = [entry for entry in await client.transcript(waiting_user.id) if entry["type"] == "message"][-1]
    labels = [button["text"] for row in card["reply_markup"]["inline_keyboard"] for button in row]
    assert "⏳ " + I18N.gettext("On the waitlist", locale="en") in labels
    assert "3 going" in card["plain"] and "on the waitlist" in card["plain"] and "full" in card["plain"]

    # A seat freed goes to the waitlist's head, and to nobody else.
    seated_user = next(user for user, said in zip(users, told) if SEATED in said)
    await client.press(seated_user, I18N.gettext("Not going", locale="en"), settle=0.3)
    async with session_factory() as fresh:
        rows = (await fresh.scalars(select(Rsvp).where(Rsvp.event_id == event.id))).all()
    assert sum(row.status == "going" and not row.waitlisted for row in rows) == 3
    assert sum(row.waitlisted for row in rows) == 16
