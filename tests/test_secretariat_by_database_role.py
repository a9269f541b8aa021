"""The secretariat granted in the database counts wherever the secretariat may act on an event, also
when SECRETARIAT_IDS is empty (a deployment that appointed its secretariat with /grant only)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from bot.services import events as ev
from db.models import Role, RoleName, Rsvp, RsvpStatus
from tests.chat import tr
from tests.factories import add_member, add_org, appoint, approved_event, make_secretariat
from tests.mocked_bot import Chat, answers, mocked_app, recording_bot, texts  # noqa: F401  (mocked_app: a fixture)

OFFICIAL = 900_201
REFUSAL = "Only a representative of this organisation can do this."


async def test_the_attendee_list_is_the_secretariats_by_the_database_role(mocked_app, session) -> None:  # type: ignore[no-untyped-def]
    assert mocked_app.settings.secretariat_ids == frozenset(), "no secretariat listed in the settings"
    org = await add_org(session)
    event = await approved_event(session, org, title="Toi")
    official = await add_member(session, OFFICIAL)
    await appoint(session, official, org)  # a representative at first: /my_events shows the event's buttons
    await make_secretariat(session, official)
    guest = await add_member(session, 900_202, display_name="Asel")
    session.add(Rsvp(event_id=event.id, member_id=guest.id, status=RsvpStatus.GOING.value, waitlisted=False, guests=0))
    await session.commit()
    bot, recorder = recording_bot()
    chat = Chat(mocked_app.dispatcher, bot, recorder, OFFICIAL)
    try:
        await chat.send("/my_events")
        await session.execute(delete(Role).where(Role.member_id == official.id, Role.role == RoleName.ORG_REP.value))
        await session.commit()  # no longer a representative; still the secretariat
        shown = await chat.press(tr("👥 Attendees"))
    finally:
        await bot.session.close()
    assert tr(REFUSAL) not in answers(shown)
    assert texts(shown) == [tr("<b>{title}</b>: {count} answered going or maybe").format(title="Toi", count=1) + "\n1. ✅ Asel"]


async def test_a_representatives_only_action_still_refuses_the_secretariat(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    event = await approved_event(session, org)
    official = await add_member(session, OFFICIAL)
    await make_secretariat(session, official)
    assert (await ev.check_can_manage(session, official, event.id, frozenset())).id == event.id
    with pytest.raises(ev.NotAllowed):  # editing, cancelling, writing to attendees: the organisation's own
        await ev.check_can_manage(session, official, event.id)
    stranger = await add_member(session, 900_203)
    with pytest.raises(ev.NotAllowed):
        await ev.check_can_manage(session, stranger, event.id, frozenset())
