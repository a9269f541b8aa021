"""Events end to end through the sandbox: submit, moderate, edit, RSVP past capacity,
reminders in the member's time zone, calendar files, and refused forged or stale buttons."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import icalendar
import pytest
from sqlalchemy import delete, select

from bot.app import create_bot
from bot.i18n import format_when
from bot.labels import language_label
from sandbox.client import SandboxUser
from bot.services import events as ev
from db.models import AuditEntry, Event, Member, Organisation, Role, RoleName, Rsvp
from db.types import utcnow
from jobs.context import JobContext
from jobs.reminders import run_reminders
from tests import factories
from tests.chat import I18N, alerts, labels, messages, plain, tr
from tests.factories import add_org, appoint, approved_event, run_notices

UTC = timezone.utc
SECRETARIAT = 900
ORG_NAME = "Ala-Too <b>&"  # user text that must never turn into markup


async def add_member(session, user: SandboxUser, locale: str = "en", **fields) -> Member:  # type: ignore[no-untyped-def]
    """The sandbox user as a registered member in Berlin."""
    values = {"display_name": user.first_name, "timezone": "Europe/Berlin", **fields}
    return await factories.add_member(session, user.id, locale, **values)


async def reload(factory, model, id_):  # type: ignore[no-untyped-def]
    async with factory() as fresh:
        return await fresh.get(model, id_)


def berlin_start(days: int = 10, hour: str = "18:30") -> tuple[str, datetime]:
    """A start typed as a Berlin wall-clock time `days` ahead, and the instant it means."""
    day = (utcnow() + timedelta(days=days)).astimezone(ev.zone_of("Europe/Berlin")).date()
    local = datetime.fromisoformat(f"{day.isoformat()}T{hour}")
    return f"{day:%d.%m.%Y} {hour}", ev.to_utc(local, "Europe/Berlin")


# ---------------------------------------------------------------- submit, reject, edit, approve


async def test_a_submission_is_rejected_with_a_reason_edited_and_approved(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep, secretary, fan = SandboxUser(6001, "Aizada"), SandboxUser(SECRETARIAT, "Secretariat"), SandboxUser(6002, "Fan", language_code="tr")
    for user in (rep, secretary, fan):
        await client.register(user)
    org = await add_org(session, ORG_NAME)
    rep_member = await add_member(session, rep)
    await appoint(session, rep_member, org)
    await add_member(session, secretary)
    await ev.follow(session, await add_member(session, fan, "tr"), organisation_id=org.id)
    await session.commit()

    await client.send(rep, "/submit_event")
    assert plain(await client.send(rep, "x" * 121)) == tr("The title is too long: at most 120 characters, please.")
    await client.send(rep, "Nowruz <b>evening</b> & more")
    await client.send(rep, "Music, food & dances.\nBring friends.")
    not_found = await client.send(rep, "Kulturhaus, Qwxzzvbnq")
    assert plain(not_found).startswith(tr("I could not find that place.")[:20])
    venue = await client.send(rep, "Kulturhaus, Berlin")
    if messages(venue)[-1]["plain"] == tr("Which city is it in?"):
        await client.press(rep, labels(venue[-1])[0])
    assert "Europe/Berlin" in plain(await client.transcript(rep.id))
    past = await client.send(rep, "01.01.2020 10:00")
    assert plain(past) == tr("That moment has already passed. Please give a time in the future.")
    far_day = (utcnow() + timedelta(days=800)).date()
    far = await client.send(rep, f"{far_day:%d.%m.%Y} 10:00")
    assert plain(far) == tr("That is more than two years ahead. Please give a date within the next two years.")
    typed, starts_at = berlin_start(10)
    await client.send(rep, typed)
    before = await client.send(rep, "17:00")
    assert plain(before) == tr("The end must be after the start. Please send the end again, or skip.")
    await client.send(rep, "21:00")
    await client.press(rep, language_label("tr", "en"))
    await client.press(rep, language_label("kk", "en"))
    await client.press(rep, tr("Done ▶"))
    await client.press(rep, tr("Culture and arts"))
    assert plain(await client.send(rep, "lots")) == tr("Please send the number of places as a whole number from 1 to 100000, or skip.")
    await client.send(rep, "40")
    bad_link = await client.send(rep, "javascript:alert(1)")
    assert plain(bad_link) == tr("That does not look like a web link. Please send a link such as https://example.org, or skip.")
    preview = await client.send(rep, "https://example.org/nowruz")
    card = messages(preview)[-1]
    assert "Nowruz <b>evening</b> & more" in card["plain"], "shown literally, never as markup"
    assert format_when(starts_at, "en", "Europe/Berlin", "full") in card["plain"]
    await client.press(rep, tr("📨 Submit"))

    async with session_factory() as fresh:
        event = await fresh.scalar(select(Event))
    assert (event.status, event.starts_at, event.timezone, event.capacity) == ("pending", starts_at, "Europe/Berlin", 40)
    assert event.ends_at == starts_at + timedelta(hours=2, minutes=30)
    queue = messages(await client.transcript(SECRETARIAT))
    assert tr("✅ Approve") in labels(queue[-1]) and "Nowruz <b>evening</b> & more" in queue[-1]["plain"]

    await client.press(secretary, tr("❌ Reject"))
    await client.send(secretary, "Please add the <b>room</b> number")
    told = messages(await client.transcript(rep.id))[-1]
    assert "Reason: Please add the <b>room</b> number" in told["plain"]
    stored = await reload(session_factory, Event, event.id)
    assert (stored.status, stored.reject_reason) == ("rejected", "Please add the <b>room</b> number")
    assert messages(await client.transcript(fan.id)) == [], "nobody hears of a rejected event"

    await client.press(rep, tr("✏️ Edit"))
    await client.press(rep, tr("✏️ Title"))
    await client.send(rep, "Nowruz evening, room 2")
    await client.press(rep, tr("📨 Submit"))
    assert (await reload(session_factory, Event, event.id)).status == "pending"
    queue = messages(await client.transcript(SECRETARIAT))
    assert len([m for m in queue if m["plain"].startswith("🗂")]) == 2, "the edit went back to moderation"
    assert [m["message_id"] for m in queue if tr("✅ Approve") in labels(m)] == [queue[-1]["message_id"]], "the decided one lost its buttons"

    await client.press(secretary, tr("✅ Approve"))
    assert messages(await client.transcript(fan.id)) == [], "the approval does not wait on the news: the worker sends it"
    assert await run_notices(running_bot) == 1
    stored = await reload(session_factory, Event, event.id)
    assert (stored.status, stored.title, stored.reject_reason) == ("approved", "Nowruz evening, room 2", None)
    assert tr("✅ Your event <b>{title}</b> was approved and is now listed.").format(title="Nowruz evening, room 2").replace(
        "<b>", "").replace("</b>", "") in plain(await client.transcript(rep.id))
    news = messages(await client.transcript(fan.id))
    assert len(news) == 1 and tr("Going", "tr") in labels(news[0]), "the follower hears, with RSVP buttons"
    assert format_when(starts_at, "tr", "Europe/Berlin", "full") in news[0]["plain"]
    async with session_factory() as fresh:
        audit = (await fresh.execute(select(AuditEntry.action, AuditEntry.actor_id).order_by(AuditEntry.id))).all()
        secretary_id = await fresh.scalar(select(Member.id).where(Member.telegram_id == SECRETARIAT))
    decisions = [(a, actor) for a, actor in audit if a.startswith("event.")]
    assert decisions == [("event.submitted", rep_member.id), ("event.rejected", secretary_id), ("event.edited", rep_member.id),
                         ("event.approved", secretary_id)]


async def test_a_trusted_organisation_skips_moderation_and_pending_lists_the_queue(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    secretary, plain_member = SandboxUser(SECRETARIAT, "Secretariat"), SandboxUser(6101, "Plain")
    for user in (secretary, plain_member):
        await client.register(user)
    await add_member(session, secretary)
    await add_member(session, plain_member)
    org = await add_org(session, ORG_NAME)
    session.add(Event(organisation_id=org.id, title="Waiting", starts_at=utcnow() + timedelta(days=3), timezone="UTC"))
    await session.commit()
    listed = await client.send(secretary, "/pending")
    waiting = I18N.gettext("{count} event is waiting for moderation:", "{count} events are waiting for moderation; the oldest first:", 1, locale="en")
    assert waiting.format(count=1) in plain(listed)
    assert plain(await client.send(plain_member, "/pending")) == tr("Only the secretariat can do this.")
    assert plain(await client.send(plain_member, f"/trust {org.id}")) == tr("Only the secretariat can do this.")
    await client.send(secretary, f"/trust {org.id}")
    assert (await reload(session_factory, Organisation, org.id)).trusted is True
    await client.send(secretary, f"/grant {plain_member.id} {org.id}")
    granted = messages(await client.transcript(plain_member.id))[-1]
    assert "/submit_event" in granted["plain"]
    async with session_factory() as fresh:
        member = await fresh.scalar(select(Member).where(Member.telegram_id == plain_member.id))
        event = await ev.submit_event(fresh, member, {
            "organisation_id": org.id, "title": "Trusted", "description": "d",
            "venue": ev.venue_from_location(52.52, 13.405).as_dict(),
            "start_local": berlin_start(3)[1].astimezone(ev.zone_of("Europe/Berlin")).replace(tzinfo=None).isoformat(),
            "category": "culture", "languages": ["tr"]}, utcnow())
        assert event.status == "approved"
        await fresh.rollback()
    await client.send(secretary, f"/revoke {plain_member.id} {org.id}")
    assert plain(await client.send(plain_member, "/submit_event")).startswith(tr("Only representatives of an organisation can submit events.")[:30])


# ---------------------------------------------------------------- RSVP, waitlist, promotion


@pytest.mark.slow
async def test_members_rsvp_past_capacity_and_the_first_waitlisted_is_promoted(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    users = [SandboxUser(6200 + i, f"Member{i}", language_code="en") for i in range(3)]
    for user in users:
        await client.register(user)
    org = await add_org(session, ORG_NAME)
    members = [await add_member(session, user) for user in users]
    for member in members:
        await ev.follow(session, member, organisation_id=org.id)
    await approved_event(session, org, capacity=2)
    await session.commit()
    assert await run_notices(running_bot) == 3, "the followers hear of the event, with its RSVP buttons"
    first, second, third = users

    await client.press(first, tr("Going"))
    await client.press(second, tr("Going"))
    waiting = await client.press(third, tr("Going"))
    assert alerts(waiting) == [tr("The event is full: you are on the waitlist. We will tell you when a place frees up.")]
    card = messages(await client.transcript(third.id))[-1]
    assert "2 going" in card["plain"] and "1 on the waitlist" in card["plain"] and "full" in card["plain"]

    await client.press(first, tr("Not going"))
    assert await run_notices(running_bot) == 1
    told = messages(await client.transcript(third.id))[-1]
    assert told["plain"].startswith("🎉 A place has freed up: you are now going to Toi <i>&</i>")
    async with session_factory() as fresh:
        rows = {r.member_id: r for r in (await fresh.scalars(select(Rsvp))).all()}
    assert rows[members[2].id].waitlisted is False and rows[members[0].id].status == "not_going"

    # Guests count against capacity: a member with a seat cannot bring more than fits.
    full = await client.press(second, "+1")
    assert alerts(full) == [tr("There are not enough free places for that many guests.")]


# ---------------------------------------------------------------- reminders


async def test_the_one_hour_reminder_arrives_in_the_members_time_zone_once(running_bot, client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(6301, "Aigerim", language_code="kk")
    await client.register(user)
    org = await add_org(session, ORG_NAME)
    member = await add_member(session, user, "kk", timezone="Asia/Almaty")
    starts_at = utcnow() + timedelta(days=3)
    event = await approved_event(session, org, starts_at=starts_at)
    await ev.set_rsvp(session, member, event.id, "going", 0, utcnow())
    await session.commit()

    bot = create_bot(bot_settings)
    context = JobContext(bot_settings, session_factory, bot)
    try:
        assert await run_reminders(context, starts_at - timedelta(hours=25)) == 0
        assert await run_reminders(context, starts_at - timedelta(hours=23, minutes=57)) == 1
        assert await run_reminders(context, starts_at - timedelta(hours=23, minutes=52)) == 0, "kept in the table"
        assert await run_reminders(context, starts_at - timedelta(minutes=58)) == 1
        assert await run_reminders(context, starts_at - timedelta(minutes=53)) == 0
    finally:
        await bot.session.close()
    sent = messages(await client.transcript(user.id))
    almaty_time = format_when(starts_at, "kk", "Asia/Almaty", "full")
    expected = tr("⏰ In about an hour: <b>{title}</b>\n{when}\n{place}", "kk").format(
        title="Toi <i>&</i>", when=almaty_time, place="Berlin").replace("<b>", "").replace("</b>", "")
    assert len(sent) == 2 and sent[-1]["plain"] == expected, "in Kazakh, at Almaty's time, the title literally"
    assert sent[-1]["text"].count("<b>") == 1, "the title is escaped, only the template's markup is HTML"

    await client.press(user, tr("🔕 Stop event reminders", "kk"))
    assert (await reload(session_factory, Member, member.id)).notify_reminders is False


# ---------------------------------------------------------------- calendar


async def test_add_to_calendar_sends_an_ics_that_keeps_the_instant_across_a_clock_change(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(6401, "Murat")
    await client.register(user)
    org = await add_org(session, ORG_NAME)
    member = await add_member(session, user, timezone="Asia/Almaty")
    year = utcnow().year + 1
    summer = ev.to_utc(datetime(year, 7, 1, 18, 30), "Europe/Berlin")  # UTC+2
    winter = ev.to_utc(datetime(year, 12, 1, 18, 30), "Europe/Berlin")  # UTC+1
    assert (summer.hour, winter.hour) == (16, 17)
    for moment in (summer, winter):
        await approved_event(session, org, starts_at=moment)
    await ev.follow(session, member, organisation_id=org.id)
    await session.commit()
    assert await run_notices(running_bot) == 2
    cards = messages(await client.transcript(user.id))
    for card, expected in zip(cards, (summer, winter)):
        replies = await client.press(user, tr("📅 Add to calendar"), message_id=card["message_id"])
        document = next(m for m in messages(replies) if m.get("document"))
        assert document["document"]["file_name"].endswith(".ics")
        parsed = icalendar.Calendar.from_ical(await client.document(document))
        vevent = next(iter(parsed.walk("VEVENT")))
        assert vevent.decoded("dtstart").astimezone(UTC) == expected
        assert str(vevent["summary"]) == "Toi <i>&</i>"


async def test_the_calendar_feed_token_can_be_renewed_and_revoked(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(6501, "Leyla")
    await client.register(user)
    member = await add_member(session, user)
    await session.commit()
    await client.send(user, "/calendar")
    first = (await reload(session_factory, Member, member.id)).ical_token
    assert first and len(first) >= 32
    await client.press(user, tr("🔄 New address (the old one stops working)"))
    second = (await reload(session_factory, Member, member.id)).ical_token
    assert second and second != first
    await client.press(user, tr("🚫 Turn the feed off"))
    assert (await reload(session_factory, Member, member.id)).ical_token is None


# ---------------------------------------------------------------- refusals


async def test_forged_and_stale_privileged_buttons_change_nothing(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    """A plain member forging moderation data; a former secretariat member and a former representative
    pressing buttons they legitimately received; a representative of org A on org B's event."""
    plain_user, former_secretary = SandboxUser(6601, "Plain"), SandboxUser(6602, "Former secretary")
    rep_a, rep_both = SandboxUser(6603, "Rep A"), SandboxUser(6604, "Rep A and B")
    secretary = SandboxUser(SECRETARIAT, "Secretariat")
    for user in (plain_user, former_secretary, rep_a, rep_both, secretary):
        await client.register(user)
    org_a, org_b = await add_org(session, "A"), await add_org(session, "B")
    await add_member(session, plain_user)
    await add_member(session, secretary)
    former = await add_member(session, former_secretary)
    session.add(Role(member_id=former.id, role=RoleName.SECRETARIAT.value))
    member_a = await add_member(session, rep_a)
    await appoint(session, member_a, org_a)
    both = await add_member(session, rep_both)
    await appoint(session, both, org_a)
    await appoint(session, both, org_b)
    pending = Event(organisation_id=org_b.id, submitted_by=both.id, title="Pending B", description="d",
                    starts_at=utcnow() + timedelta(days=4), timezone="UTC", category="culture")
    session.add(pending)
    approved = await approved_event(session, org_b)
    await session.commit()

    # The former secretary and rep_both receive legitimate buttons while they hold the roles.
    queue = await client.send(former_secretary, "/pending")
    assert tr("✅ Approve") in labels(messages(queue)[-1])
    mine = await client.send(rep_both, "/my_events")
    assert any(tr("❌ Cancel the event") in labels(m) for m in messages(mine))

    # A plain member forges approve / reject / edit / cancel / attendee data: the guard refuses, nothing changes.
    target = messages(await client.send(plain_user, "/help"))[-1]["message_id"]
    for data in (f"mod:ok:{pending.id}", f"mod:no:{pending.id}", f"ev:edit:{approved.id}:0", f"ev:cancel_yes:{approved.id}:0",
                 f"ev:att:{approved.id}:0"):
        refused = await client.forge_callback(plain_user, target, data)
        assert alerts(refused) == [tr("This menu has expired. Please start again.")], data

    # Roles are taken away after the buttons went out.
    await session.execute(delete(Role).where(Role.member_id == former.id))
    await session.execute(delete(Role).where(Role.member_id == both.id, Role.organisation_id == org_b.id))
    await session.commit()
    for label in (tr("✅ Approve"), tr("❌ Reject")):
        refused = await client.press(former_secretary, label)
        assert alerts(refused) == [tr("Only the secretariat can do this.")], label
    only_rep = tr("Only a representative of this organisation can do this.")
    for label in (tr("✏️ Edit"), tr("❌ Cancel the event"), tr("👥 Attendees")):
        refused = await client.press(rep_both, label)
        assert alerts(refused) == [only_rep], label
    # A representative of A only never manages B's event, even with a real button in hand.
    assert plain(await client.send(rep_a, "/my_events")) == tr("Your organisations have no upcoming events. Send /submit_event to add one.")
    assert all(tr("✏️ Edit") not in labels(m) for m in messages(await client.transcript(rep_a.id))), "no B event to manage"

    assert (await reload(session_factory, Event, pending.id)).status == "pending"
    assert (await reload(session_factory, Event, approved.id)).status == "approved"
    async with session_factory() as fresh:
        actions = (await fresh.scalars(select(AuditEntry.action))).all()
    assert not [a for a in actions if a.startswith("event.")]
    # The real secretariat still decides.
    await client.send(secretary, "/pending")
    await client.press(secretary, tr("✅ Approve"))
    assert (await reload(session_factory, Event, pending.id)).status == "approved"


async def test_a_cancellation_tells_everyone_who_answered(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    rep, going, maybe, silent = (SandboxUser(6701, "Rep"), SandboxUser(6702, "Going", language_code="ky"),
                                 SandboxUser(6703, "Maybe"), SandboxUser(6704, "Silent"))
    for user in (rep, going, maybe, silent):
        await client.register(user)
    org = await add_org(session, ORG_NAME)
    await appoint(session, await add_member(session, rep), org)
    event = await approved_event(session, org)
    for user, status in ((going, "going"), (maybe, "maybe")):
        await ev.set_rsvp(session, await add_member(session, user, "ky" if user is going else "en",
                                                    timezone="Asia/Bishkek"), event.id, status, 0, utcnow())
    await add_member(session, silent)
    await session.commit()

    await client.send(rep, "/my_events")
    await client.press(rep, tr("❌ Cancel the event"))
    await client.press(rep, tr("Yes, cancel it"))
    assert (await reload(session_factory, Event, event.id)).status == "cancelled"
    assert await run_notices(running_bot) == 2
    told = messages(await client.transcript(going.id))
    when = format_when(event.starts_at, "ky", "Asia/Bishkek", "medium")
    expected = tr("❌ <b>{title}</b> ({when}) has been cancelled by the organisers.", "ky").format(title="Toi <i>&</i>", when=when)
    assert [m["plain"] for m in told] == [expected.replace("<b>", "").replace("</b>", "")], "in the member's language and zone"
    assert len(messages(await client.transcript(maybe.id))) == 1
    assert messages(await client.transcript(silent.id)) == []
    again = await client.press(rep, tr("✏️ Edit"))
    assert alerts(again) == [tr("This event has been cancelled and can no longer be changed.")]


async def test_the_representative_pages_through_attendees(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    rep = SandboxUser(6801, "Rep")
    await client.register(rep)
    org = await add_org(session, ORG_NAME)
    await appoint(session, await add_member(session, rep), org)
    event = await approved_event(session, org)
    for i in range(230):
        member = Member(telegram_id=90000 + i, display_name=("<b>Attendee</b> " + "x" * 50)[:64], registered_at=utcnow())
        session.add(member)
        await session.flush()
        session.add(Rsvp(event_id=event.id, member_id=member.id, status="going", guests=i % 4, waitlisted=False))
    await session.commit()
    await client.send(rep, "/my_events")
    first = messages(await client.press(rep, tr("👥 Attendees")))[-1]
    assert len(first["plain"]) < 4096 and first["plain"].count("<b>Attendee</b>") == 50
    seen = first["plain"].count("<b>Attendee</b>")
    for _ in range(4):
        page = messages(await client.press(rep, "▶", message_id=first["message_id"]))[-1]
        assert len(page["plain"]) < 4096
        seen += page["plain"].count("<b>Attendee</b>")
    assert seen == 230 and "230." in page["plain"]
