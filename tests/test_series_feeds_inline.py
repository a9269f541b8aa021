"""Recurring events (local dates across a daylight-saving change, limits, moderation once, per-occurrence
RSVP), the organisation's public feed with RRULE and EXDATE, inline mode, and the verified mark."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import aiohttp
import icalendar
import pytest

from sandbox.client import SandboxUser
from bot.services import events as ev
from bot.services import moderation
from bot.services import series as se
from bot.web import public_routes, start_http
from db.models import EventStatus, RsvpStatus
from db.types import utcnow
from tests.test_events_e2e import I18N, add_member, add_org, appoint, approved_event, messages, tr

UTC = timezone.utc
NOW = datetime(2027, 1, 10, 12, 0, tzinfo=UTC)
BERLIN = {"name": "Kulturhaus", "city": "Berlin", "country_code": "DE", "latitude": 52.52, "longitude": 13.405,
          "timezone": "Europe/Berlin"}


def draft(org_id: int, start_local: str = "2027-03-20T18:30", end_local: str | None = "2027-03-20T20:00") -> dict:  # type: ignore[type-arg]
    return {"organisation_id": org_id, "title": "Kazakh class", "description": "Every Saturday", "venue": BERLIN,
            "start_local": start_local, "end_local": end_local, "languages": ["kk"], "category": "education", "capacity": 1}


async def rep_and_org(session):  # type: ignore[no-untyped-def]
    org = await add_org(session, name="Ala-Too")
    rep = await add_member(session, SandboxUser(7201, "Teacher"))
    await appoint(session, rep, org)
    return rep, org


async def test_a_weekly_series_keeps_its_local_time_across_the_clock_change(session) -> None:  # type: ignore[no-untyped-def]
    rep, org = await rep_and_org(session)
    _series, events = await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(5,), count=4), NOW)
    zone = ev.zone_of("Europe/Berlin")
    local = [e.starts_at.astimezone(zone) for e in events]
    assert [d.date() for d in local] == [date(2027, 3, 20), date(2027, 3, 27), date(2027, 4, 3), date(2027, 4, 10)]
    assert {d.strftime("%H:%M") for d in local} == {"18:30"}
    assert [e.starts_at.hour for e in events] == [17, 17, 16, 16]  # UTC moves; the wall clock does not (DST on 28 March)
    assert all(e.ends_at - e.starts_at == timedelta(minutes=90) for e in events)
    assert {e.status for e in events} == {EventStatus.PENDING.value}


async def test_series_limits_and_the_rule_for_short_months(session) -> None:  # type: ignore[no-untyped-def]
    rep, org = await rep_and_org(session)
    with pytest.raises(ev.InvalidEventField) as too_many:
        await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(5,), count=10_000), NOW)
    assert too_many.value.reason == "series_too_many"
    with pytest.raises(ev.InvalidEventField) as too_long:
        await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(0, 2, 5), until=date(2029, 1, 1)), NOW)
    assert too_long.value.reason == "series_too_many"
    with pytest.raises(ev.InvalidEventField) as backwards:
        await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(5,), until=date(2027, 3, 1)), NOW)
    assert backwards.value.reason == "end_before_start"
    expansion = se.expand(se.rrule_text(se.Rule("monthly", month_day=31, count=4)), datetime(2027, 1, 31, 18, 30), "Europe/Berlin")
    assert expansion.notes == ["short_months"]
    assert [d.date() for d in expansion.starts] == [date(2027, 1, 31), date(2027, 3, 31), date(2027, 5, 31), date(2027, 7, 31)]
    second_saturday = se.expand(se.rrule_text(se.Rule("monthly", nth=2, weekday=5, count=3)), datetime(2027, 2, 1, 11, 0), "Asia/Almaty")
    assert [d.date() for d in second_saturday.starts] == [date(2027, 2, 13), date(2027, 3, 13), date(2027, 4, 10)]


async def test_a_series_is_moderated_once_and_each_occurrence_has_its_own_rsvp(session, bot_settings) -> None:  # type: ignore[no-untyped-def]
    rep, org = await rep_and_org(session)
    secretary = await add_member(session, SandboxUser(900, "Secretariat"))
    first_fan, second_fan = (await add_member(session, SandboxUser(7202, "A")), await add_member(session, SandboxUser(7203, "B")))
    _series, events = await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(5,), count=3), NOW)
    await moderation.approve_event(session, secretary, events[1].id, bot_settings.secretariat_ids, NOW)
    assert {e.status for e in events} == {EventStatus.APPROVED.value}
    await ev.set_rsvp(session, first_fan, events[1].id, RsvpStatus.GOING.value, 0, NOW)
    waiting = await ev.set_rsvp(session, second_fan, events[1].id, RsvpStatus.GOING.value, 0, NOW)
    other_week = await ev.set_rsvp(session, second_fan, events[2].id, RsvpStatus.GOING.value, 0, NOW)
    assert waiting.rsvp.waitlisted and not other_week.rsvp.waitlisted  # capacity 1 per occurrence


async def test_the_organisation_feed_carries_the_rule_and_excludes_cancelled_occurrences(session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    rep, org = await rep_and_org(session)
    org.trusted = True
    single = await approved_event(session, org, starts_at=utcnow() + timedelta(days=3))
    start = (utcnow() + timedelta(days=7)).astimezone(ev.zone_of("Europe/Berlin")).replace(hour=18, minute=30, second=0, microsecond=0)
    _series, events = await se.create_series(session, rep, draft(org.id, start.strftime("%Y-%m-%dT%H:%M"), None),
                                             se.Rule("weekly", weekdays=(start.weekday(),), count=5), utcnow())
    events[2].status = EventStatus.CANCELLED.value
    await session.commit()
    runner = await start_http(public_routes(session_factory, bot_settings), "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/ical/org/{org.id}.ics") as response:
                assert response.status == 200 and response.content_type == "text/calendar"
                calendar = icalendar.Calendar.from_ical(await response.read())
            async with http.get(f"http://127.0.0.1:{port}/ical/org/99999.ics") as missing:
                assert missing.status == 404
    finally:
        await runner.cleanup()
    vevents = [c for c in calendar.walk("VEVENT")]
    assert len(vevents) == 2  # the single event and one series entry, not five
    master = next(v for v in vevents if "RRULE" in v)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["COUNT"] == [5]
    assert master["DTSTART"].dt.strftime("%H:%M") == "18:30" and str(master["DTSTART"].dt.tzinfo) == "Europe/Berlin"
    excluded = [d.dt for d in master["EXDATE"].dts]
    assert excluded == [events[2].starts_at.astimezone(ev.zone_of("Europe/Berlin"))]
    assert any(str(v["UID"]) == f"event-{single.id}@kardes.bot" for v in vevents)


async def test_inline_mode_lists_upcoming_cards_with_the_rsvp_link_and_ignores_junk(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session, name="Ala-Too")
    event = await approved_event(session, org)
    await session.commit()
    await client.set_inline_mode(True)
    guest = SandboxUser(7301, "Guest", language_code="kk")  # not registered: Telegram's language decides
    for query in ("berlin", "Берлин", "ala-too"):
        answer = await client.inline_query(guest, query)
        assert [r["id"] for r in answer["results"]] == [f"e{event.id}"], query
        assert answer["cache_time"] <= 60
    card = answer["results"][0]
    assert tr("Organised by {name}", "kk").format(name="Ala-Too") in card["plain"]
    assert card["reply_markup"]["inline_keyboard"][0][0]["url"].endswith(f"?start=e_{event.id}")
    for junk in ("", "!!! ???", "🎉🎉", "x" * 256, "' OR 1=1 --"):
        assert (await client.inline_query(guest, junk))["results"] == [], junk


async def test_the_secretariat_verifies_an_organisation_and_its_cards_show_the_mark(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    from handlers.directory import event_card

    secretary, stranger = SandboxUser(900, "Secretariat"), SandboxUser(7401, "Stranger")
    for user in (secretary, stranger):
        await client.register(user)
        await add_member(session, user)
    org = await add_org(session, name="Ala-Too")
    event = await approved_event(session, org)
    await session.commit()
    refused = await client.send(stranger, f"/verify {org.id}")
    assert messages(refused)[-1]["plain"] == tr("Only the secretariat can do this.")
    done = await client.send(secretary, f"/verify {org.id}")
    assert "✔️" in messages(done)[-1]["plain"]
    async with session_factory() as fresh:
        host = await fresh.get(type(org), org.id)
        assert host.verified
        with I18N.context(), I18N.use_locale("en"):
            assert "Ala-Too ✔️" in event_card(await fresh.get(type(event), event.id), host, "en", None)
    bad = await client.send(secretary, "/verify ²")
    assert messages(bad)[-1]["plain"] == tr("Send /{command} and the organisation's number, for example /{command} 12.").format(command="verify")


async def test_a_representative_repeats_an_event_weekly_from_the_manage_menu(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from db.models import Event, SeriesOccurrence

    teacher, secretary = SandboxUser(7501, "Teacher"), SandboxUser(900, "Secretariat")
    for user in (teacher, secretary):
        await client.register(user)
    org = await add_org(session, name="Ala-Too")
    rep = await add_member(session, teacher)
    await add_member(session, secretary)
    await appoint(session, rep, org)
    event = await approved_event(session, org)
    await session.commit()
    await client.send(teacher, "/my_events")
    await client.press(teacher, tr("🔁 Repeat"))
    await client.press(teacher, tr("Every week"))
    await client.press(teacher, tr("Next ▶"))
    refused = await client.send(teacher, "10000")
    assert messages(refused)[-1]["plain"] == tr("A series can have at most 104 occurrences. Please send a smaller number or an earlier date.")
    before = len(messages(await client.transcript(secretary.id)))
    done = await client.send(teacher, "4")
    assert "4" in messages(done)[0]["plain"]
    await client.wait_for(secretary.id, lambda entries: len(messages(entries)) > before)
    assert len(messages(await client.transcript(secretary.id))) == before + 1  # moderated once for the series
    async with session_factory() as fresh:
        ids = list(await fresh.scalars(select(SeriesOccurrence.event_id)))
        starts = [e.starts_at for e in await fresh.scalars(select(Event).where(Event.id.in_(ids)).order_by(Event.starts_at))]
        assert len(ids) == 4 and event.id in ids
        zone = ev.zone_of("Europe/Berlin")
        assert len({s.astimezone(zone).strftime("%a %H:%M") for s in starts}) == 1


async def test_editing_the_whole_series_copies_one_occurrences_details_and_sends_it_back_to_moderation(session) -> None:  # type: ignore[no-untyped-def]
    rep, org = await rep_and_org(session)
    _series, events = await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(5,), count=4), NOW)
    for event in events:
        event.status = EventStatus.APPROVED.value
    zone = ev.zone_of("Europe/Berlin")
    events[1].title = "Kazakh class, new room"
    events[1].starts_at = ev.to_utc(datetime(2027, 3, 27, 19, 0), "Europe/Berlin")  # 19:00 instead of 18:30
    changed = await se.apply_to_series(session, rep, events[1].id, NOW)
    assert [e.id for e in changed] == [events[2].id, events[3].id]
    assert events[0].title == "Kazakh class" and events[0].status == EventStatus.APPROVED.value
    for event in events[2:]:
        assert event.title == "Kazakh class, new room" and event.status == EventStatus.PENDING.value
        assert event.starts_at.astimezone(zone).strftime("%a %H:%M") == "Sat 19:00"


async def test_the_moderation_queue_lists_a_series_once(session) -> None:  # type: ignore[no-untyped-def]
    rep, org = await rep_and_org(session)
    single = await approved_event(session, org)
    single.status = EventStatus.PENDING.value
    _series, events = await se.create_series(session, rep, draft(org.id), se.Rule("weekly", weekdays=(5,), count=6), NOW)
    queue, total = await moderation.pending_events(session)
    assert total == 2 and {e.id for e in queue} == {single.id, events[0].id}
