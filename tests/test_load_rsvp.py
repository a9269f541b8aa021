"""The last places at an event under simultaneous taps, on SQLite and PostgreSQL (issue 10, item 4):
seated exactly the capacity, in tap order (Telegram's update order), even when the first taps are
the slowest to reach the event's lock; the waitlist in tap order; a freed place to its head."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from bot.services import events as ev
from db.models import Member, Rsvp
from db.types import utcnow
from handlers.events import render_event_card
from tests.chat import messages
from tests.factories import run_notices
from tests.test_events_e2e import add_member, add_org, approved_event

I18N = create_i18n()
SEATED = "See you there! We will remind you a day and an hour before."
WAITING = "The event is full: you are on the waitlist. We will tell you when a place frees up."
PROMOTED = "A place has freed up: you are now going to"


def answers(entries: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [entry["text"] for entry in entries if entry["type"] == "callback_answer"]


async def fans_with_cards(running_bot, client, session, first_id: int, count: int, capacity: int):  # type: ignore[no-untyped-def]
    """`count` registered members who said Maybe to an event with `capacity` places, each with its card."""
    users = [SandboxUser(first_id + i, f"Fan{i}", language_code="en") for i in range(count)]
    for user in users:
        await client.register(user)
    org = await add_org(session)
    members = [await add_member(session, user) for user in users]
    event = await approved_event(session, org, capacity=capacity)
    for member in members:  # everyone said Maybe first: their Going changes an answer they already gave
        await ev.set_rsvp(session, member, event.id, "maybe", 0, utcnow())
    await session.commit()
    with running_bot.app.i18n.use_locale("en"), running_bot.app.i18n.context():
        for member, user in zip(members, users):
            text, markup = await render_event_card(session, event, member, "en")
            await running_bot.bot.send_message(user.id, text, reply_markup=markup)
    await session.commit()
    return users, members, event


async def tap(client, user: SandboxUser, label: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Press the button on the user's card without waiting for the answer: Telegram numbers the tap
    (update_id) when it receives it."""
    [card] = [entry for entry in await client.transcript(user.id) if entry["type"] == "message"][-1:]
    [data] = [button["callback_data"] for row in card["reply_markup"]["inline_keyboard"] for button in row
              if button["text"] == label]
    return await client._request("POST", f"/sandbox/users/{user.id}/callback",
                                 {"message_id": card["message_id"], "data": data, **user.profile()})


async def taps_in_order(client, users: list[SandboxUser], label: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """Each user taps, one after the other (so in this order for Telegram); then every answer."""
    created = [await tap(client, user, label) for user in users]
    assert [c["update_id"] for c in created] == sorted(c["update_id"] for c in created)
    reactions = await asyncio.gather(*(client.wait(user.id, since=int(c["seq"]), update_id=c["update_id"],
                                                   settle=0.2, timeout=30) for user, c in zip(users, created)))
    return [answers(entries) for entries in reactions]


def slow_for(monkeypatch, telegram_ids: set[int], seconds: float) -> None:  # type: ignore[no-untyped-def]
    """These members' taps reach the event's lock late (a slow statement, another process, SQLite's busy wait)."""
    set_rsvp = ev.set_rsvp

    async def slow(session, member, *args, **kwargs):  # type: ignore[no-untyped-def]
        if member is not None and member.telegram_id in telegram_ids:
            await asyncio.sleep(seconds)
        return await set_rsvp(session, member, *args, **kwargs)

    monkeypatch.setattr(ev, "set_rsvp", slow)


async def line(session_factory, event_id: int) -> tuple[list[int], list[int]]:  # type: ignore[no-untyped-def]
    """Telegram ids of those seated, and of those on the waitlist in the order of the line."""
    async with session_factory() as fresh:
        rows = (await fresh.execute(
            select(Member.telegram_id, Rsvp.waitlisted).join(Member, Member.id == Rsvp.member_id)
            .where(Rsvp.event_id == event_id, Rsvp.status == "going").order_by(*ev.LINE_ORDER))).all()
    return sorted(t for t, waiting in rows if not waiting), [t for t, waiting in rows if waiting]


@pytest.mark.slow
async def test_twenty_simultaneous_going_taps_for_three_places_seat_the_first_three_tappers_and_queue_the_rest_in_tap_order(
        running_bot, client, session, session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    users, members, event = await fans_with_cards(running_bot, client, session, 9700, 20, capacity=3)
    first, rest = users[:3], users[3:]
    slow_for(monkeypatch, {user.id for user in first}, 0.4)  # the first three tappers reach the lock last

    going = I18N.gettext("Going", locale="en")
    told = await taps_in_order(client, users, going)
    assert [SEATED in said for said in told] == [True] * 3 + [False] * 17, told
    assert all(WAITING in said for said in told[3:]), told
    seated, waiting = await line(session_factory, event.id)
    assert seated == sorted(user.id for user in first)
    assert waiting == [user.id for user in rest], "the waitlist keeps the order of the taps"

    # A waitlisted member's card says so, instead of showing the place as theirs.
    card = [entry for entry in await client.transcript(rest[0].id) if entry["type"] == "message"][-1]
    labels = [button["text"] for row in card["reply_markup"]["inline_keyboard"] for button in row]
    assert "⏳ " + I18N.gettext("On the waitlist", locale="en") in labels
    assert "3 going" in card["plain"] and "on the waitlist" in card["plain"] and "full" in card["plain"]

    # A seat freed goes to the head of the line, the fourth tapper, and to nobody else.
    monkeypatch.undo()
    await client.press(first[1], I18N.gettext("Not going", locale="en"), settle=0.3)
    seated, waiting = await line(session_factory, event.id)
    assert seated == sorted([first[0].id, first[2].id, rest[0].id])
    assert waiting == [user.id for user in rest[1:]]
    assert await run_notices(running_bot) == 1
    assert any(PROMOTED in m["plain"] for m in messages(await client.transcript(rest[0].id)))
    for user in rest[1:]:
        assert not any(PROMOTED in m["plain"] for m in messages(await client.transcript(user.id)))


async def test_a_tap_later_than_the_settling_time_queues_ahead_of_later_taps_and_unseats_nobody(
        running_bot, client, session, session_factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(ev, "SETTLE", timedelta(seconds=0.3))
    users, members, event = await fans_with_cards(running_bot, client, session, 9750, 4, capacity=1)
    late, *others = users
    slow_for(monkeypatch, {late.id}, 1.5)  # far beyond the settling time: the place is gone by then

    told = await taps_in_order(client, users, I18N.gettext("Going", locale="en"))
    assert [SEATED in said for said in told] == [False, True, False, False], told
    seated, waiting = await line(session_factory, event.id)
    assert seated == [others[0].id], "the member told 'See you there' keeps the place"
    assert waiting == [late.id, others[1].id, others[2].id], "the early tap waits ahead of the later ones"

    monkeypatch.undo()
    await client.press(others[0], I18N.gettext("Not going", locale="en"), settle=0.3)
    seated, waiting = await line(session_factory, event.id)
    assert seated == [late.id] and waiting == [others[1].id, others[2].id]
