"""Privileged routers are guarded once: every secretariat and representative command and button,
pressed by an ordinary member or by someone who never registered, gets the refusal in their
language and changes nothing; a role taken away between two steps is refused at the next one.

The real dispatcher over a recording bot (tests/mocked_bot.py): a button is pressed on a message
that carries it, as a member who held the role when it was sent would have it, so the role guard
itself answers (the ButtonGuard, which refuses data that is not on the message, is checked at the
end and end to end in test_events_e2e.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from bot.app import create_app
from bot.callbacks import AttendeeMsgCB, EventCB, FormCB, LinkCB, ModCB, SeriesCB
from db.models import (
    AuditEntry,
    ChatLink,
    ChatLinkStatus,
    Event,
    EventStatus,
    Member,
    Notice,
    Organisation,
    Role,
    RoleName,
    SeriesOccurrence,
)
from db.types import utcnow
from tests.chat import tr
from tests.conftest import test_settings as settings_for
from tests.factories import add_member, add_org, appoint, approved_event, make_secretariat
from tests.mocked_bot import Chat, answers, recording_bot, texts

REP, SECRETARY, ORDINARY, STRANGER = 910_001, 910_002, 910_003, 910_004

ONLY_SECRETARIAT = "Only the secretariat can do this."
ONLY_REP = "Only a representative of this organisation can do this."
SUBMIT_REFUSAL = ("Only representatives of an organisation can submit events. "
                  "If you represent one, ask the secretariat to grant you the role.")
CHANNELS_REFUSAL = "Only representatives of an organisation and the secretariat can see linked chats."
NOT_UNDERSTOOD = "I didn't understand that. Send /help to see what I can do."


@pytest.fixture
async def app(database_url: str, session_factory):  # type: ignore[no-untyped-def]
    app = create_app(settings_for(database_url, "http://127.0.0.1:9", "42:TEST", secretariat_ids="900"))
    yield app
    await app.close()


@pytest.fixture
async def world(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """A representative of Ala-Too with a pending and an approved event and a linked channel, a
    secretary (role in the database), and an ordinary member who reads Kazakh."""
    org = await add_org(session)
    rep = await add_member(session, REP, timezone="Europe/Berlin")
    await appoint(session, rep, org)
    await make_secretariat(session, await add_member(session, SECRETARY))
    await add_member(session, ORDINARY, "kk")
    pending = Event(organisation_id=org.id, submitted_by=rep.id, title="Pending", description="d", timezone="Europe/Berlin",
                    starts_at=utcnow() + timedelta(days=4), category="culture", status=EventStatus.PENDING.value)
    session.add(pending)
    approved = await approved_event(session, org)
    link = ChatLink(chat_id=-100_777, chat_type="channel", title="News", organisation_id=org.id, added_by=rep.id,
                    status=ChatLinkStatus.ACTIVE.value)
    session.add(link)
    await session.commit()
    return {"org": org.id, "pending": pending.id, "approved": approved.id, "link": link.id}


@pytest.fixture
async def chats(app) -> AsyncIterator[dict[int, Chat]]:  # type: ignore[no-untyped-def]
    bot, recorder = recording_bot()
    yield {user: Chat(app.dispatcher, bot, recorder, user, language_code="ru" if user == STRANGER else "en")
           for user in (REP, SECRETARY, ORDINARY, STRANGER)}
    await bot.session.close()


def carrying(chat: Chat, data: str) -> dict[str, Any]:
    """A message in the chat that shows one button with `data`."""
    return {"message_id": 77, "date": 1_700_000_000, "chat": {"id": chat.user_id, "type": "private"},
            "reply_markup": {"inline_keyboard": [[{"text": "·", "callback_data": data}]]}}


async def member_of(session, telegram_id: int) -> Member:  # type: ignore[no-untyped-def]
    return await session.scalar(select(Member).where(Member.telegram_id == telegram_id))


async def snapshot(session_factory) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]
    """What a refused action must leave as it was."""
    async with session_factory() as fresh:
        return (
            (await fresh.execute(select(Event.id, Event.status, Event.title, Event.reject_reason).order_by(Event.id))).all(),
            (await fresh.execute(select(Role.member_id, Role.role, Role.organisation_id).order_by(Role.id))).all(),
            (await fresh.execute(select(Organisation.id, Organisation.trusted, Organisation.verified))).all(),
            (await fresh.execute(select(ChatLink.id, ChatLink.status, ChatLink.organisation_id, ChatLink.thread_id))).all(),
            await fresh.scalar(select(func.count()).select_from(AuditEntry)),
            await fresh.scalar(select(func.count()).select_from(Notice)),
            await fresh.scalar(select(func.count()).select_from(SeriesOccurrence)),
        )


@pytest.mark.parametrize("intruder,locale", [(ORDINARY, "kk"), (STRANGER, "ru")], ids=["ordinary member", "never registered"])
async def test_every_privileged_command_and_button_refuses_and_changes_nothing(
        world, chats, session_factory, intruder, locale) -> None:  # type: ignore[no-untyped-def]
    chat = chats[intruder]
    org, pending, approved, link = world["org"], world["pending"], world["approved"], world["link"]
    before = await snapshot(session_factory)
    commands = {
        ONLY_SECRETARIAT: ["/pending", f"/grant {intruder} {org}", f"/revoke {REP} {org}", f"/trust {org}",
                           f"/untrust {org}", f"/verify {org}", f"/unverify {org}"],
        SUBMIT_REFUSAL: ["/submit_event", "/my_events"],
        CHANNELS_REFUSAL: ["/channels"],
    }
    for refusal, sent in commands.items():
        for command in sent:
            replies = await chat.send(command)
            assert texts(replies) == [tr(refusal, locale)], command
    buttons = {
        ONLY_SECRETARIAT: [ModCB(a="ok", id=pending), ModCB(a="no", id=pending)],
        ONLY_REP: [EventCB(a="edit", id=approved), EventCB(a="cancel", id=approved), EventCB(a="cancel_yes", id=approved),
                   EventCB(a="keep", id=approved), EventCB(a="att", id=approved), SeriesCB(a="start", id=approved),
                   LinkCB(a="rm", id=link), LinkCB(a="ok", id=link, o=org), AttendeeMsgCB(a="start", id=approved)],
        # A step of a conversation they are not in: no handler takes it (the revoked tests below meet the guard there).
        "This menu has expired. Please start again.": [SeriesCB(a="all", id=approved), FormCB(a="submit"), FormCB(a="skip", v="link")],
    }
    for refusal, pressed in buttons.items():
        for data in pressed:
            replies = await chat.press_data(carrying(chat, data.pack()), data.pack())
            assert answers(replies) == [tr(refusal, locale)], data
            assert texts(replies) == [], data
    # Data that is not on the pressed message never gets as far: the ButtonGuard says the menu expired.
    forged = await chat.press_data(carrying(chat, EventCB(a="ics", id=approved).pack()), ModCB(a="ok", id=pending).pack())
    assert answers(forged) == [tr("This menu has expired. Please start again.", locale)]
    assert await snapshot(session_factory) == before


async def test_the_secretariat_passes_the_representatives_guard_where_the_service_lets_it(world, chats) -> None:  # type: ignore[no-untyped-def]
    chat = chats[SECRETARY]
    data = EventCB(a="att", id=world["approved"]).pack()
    listed = await chat.press_data(carrying(chat, data), data)
    assert texts(listed) == [tr("<b>{title}</b>: {count} answered going or maybe").format(title="Toi &lt;i&gt;&amp;&lt;/i&gt;", count=0)
                             + "\n" + tr("Nobody yet.")]
    # It represents no organisation, so it has none to submit for: the handler says so, as before.
    assert texts(await chat.send("/submit_event")) == [tr(SUBMIT_REFUSAL)]


async def test_whoever_was_asked_to_link_a_chat_may_still_decline_without_the_role(world, chats, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    member = await member_of(session, ORDINARY)  # they hold no role
    link = ChatLink(chat_id=-100_778, chat_type="supergroup", title="Theirs", added_by=member.id)
    session.add(link)
    await session.commit()
    chat = chats[ORDINARY]
    data = LinkCB(a="no", id=link.id).pack()
    declined = await chat.press_data(carrying(chat, data), data)
    assert texts(declined) == [tr("All right: that chat is not linked.", "kk")]
    async with session_factory() as fresh:
        assert (await fresh.get(ChatLink, link.id)).status == ChatLinkStatus.REMOVED.value


# ---------------------------------------------------------------- a role revoked between two steps


async def revoke(session, telegram_id: int) -> None:  # type: ignore[no-untyped-def]
    member = await member_of(session, telegram_id)
    await session.execute(delete(Role).where(Role.member_id == member.id))
    await session.commit()


async def test_a_representative_who_loses_the_role_mid_form_is_refused_and_the_form_is_closed(world, chats, session) -> None:  # type: ignore[no-untyped-def]
    chat = chats[REP]
    await chat.send("/submit_event")
    asked = await chat.send("Nowruz")
    assert texts(asked) == [tr("Describe the event in up to 2000 characters.")]
    await revoke(session, REP)
    assert texts(await chat.send("Music and dances")) == [tr(SUBMIT_REFUSAL)]
    assert texts(await chat.send("Bring friends")) == [tr(NOT_UNDERSTOOD)], "the form does not go on"


async def test_an_edit_is_refused_at_submit_when_the_role_went_meanwhile(world, chats, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    chat = chats[REP]
    await chat.send("/my_events")
    await chat.press(tr("✏️ Edit"))
    await chat.press(tr("✏️ Title"))
    await chat.send("A new title")
    await revoke(session, REP)
    before = await snapshot(session_factory)
    refused = await chat.press(tr("📨 Submit"))
    assert answers(refused) == [tr(ONLY_REP)] and texts(refused) == []
    assert await snapshot(session_factory) == before


async def test_a_secretary_who_loses_the_role_before_the_reason_is_refused(world, chats, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    chat = chats[SECRETARY]
    await chat.send("/pending")
    asked = await chat.press(tr("❌ Reject"))
    assert texts(asked) == [tr("Why is <b>{title}</b> rejected? Send the reason; the representative will read it.").format(title="Pending")]
    await revoke(session, SECRETARY)
    before = await snapshot(session_factory)
    assert texts(await chat.send("Not our kind of event")) == [tr(ONLY_SECRETARIAT)]
    assert await snapshot(session_factory) == before
    assert texts(await chat.send("Really not")) == [tr(NOT_UNDERSTOOD)], "the reason is no longer asked for"


async def test_a_series_is_refused_at_the_next_step_when_the_role_went(world, chats, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    chat = chats[REP]
    await chat.send("/my_events")
    await chat.press(tr("🔁 Repeat"))
    await chat.press(tr("Every week"))
    await revoke(session, REP)
    before = await snapshot(session_factory)
    refused = await chat.press(tr("Next ▶"))
    assert answers(refused) == [tr(ONLY_REP)] and texts(refused) == []
    assert texts(await chat.send("4")) == [tr(NOT_UNDERSTOOD)], "the series form was closed"
    assert await snapshot(session_factory) == before


async def test_a_role_granted_again_opens_the_flows_again(world, chats, session) -> None:  # type: ignore[no-untyped-def]
    """The guard reads the database on every update, in both directions."""
    await revoke(session, REP)
    chat = chats[REP]
    assert texts(await chat.send("/my_events")) == [tr(SUBMIT_REFUSAL)]
    session.add(Role(member_id=(await member_of(session, REP)).id, role=RoleName.ORG_REP.value, organisation_id=world["org"]))
    await session.commit()
    listed = await chat.send("/my_events")
    assert len(texts(listed)) == 2 and all(t.startswith(tr("Status: {value}").split("{")[0]) for t in texts(listed))
