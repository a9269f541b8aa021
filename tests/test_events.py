"""Events on the database: validation, moderation with roles, RSVP and the waitlist, reminders,
the audience of a new event, and calendar files that keep their instant across clock changes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import icalendar
import pytest
from sqlalchemy import select

from bot.services import calendar as cal
from bot.services import events as ev
from bot.services import moderation
from db.models import AuditEntry, Event, EventStatus, Member, Organisation, Role, RoleName, Rsvp
from db.types import utcnow

UTC = timezone.utc
SECRETARIAT = frozenset({900})
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


async def add_member(session, telegram_id: int, **fields) -> Member:  # type: ignore[no-untyped-def]
    values = dict(locale="en", display_name=f"M{telegram_id}", registered_at=utcnow(), quiet_start=None, quiet_end=None)
    values.update(fields)
    member = Member(telegram_id=telegram_id, **values)
    session.add(member)
    await session.flush()
    return member


async def add_org(session, name: str = "Ala-Too", **fields) -> Organisation:  # type: ignore[no-untyped-def]
    org = Organisation(name=name, category="cultural_centre", **fields)
    session.add(org)
    await session.flush()
    return org


def berlin_draft(org: Organisation, start: str = "2026-03-29T18:30", **changes) -> dict:  # type: ignore[no-untyped-def,type-arg]
    draft = {
        "organisation_id": org.id, "title": "Nowruz <b>evening</b>", "description": "Music & food",
        "venue": {"name": "Kulturhaus", "city": "Berlin", "country_code": "DE", "latitude": 52.52, "longitude": 13.405,
                  "timezone": "Europe/Berlin", "city_id": None},
        "start_local": start, "end_local": None, "languages": ["tr", "kk"], "category": "culture",
        "capacity": None, "link": None,
    }
    draft.update(changes)
    return draft


async def approved_event(session, org: Organisation, rep: Member, *, capacity: int | None = None,  # type: ignore[no-untyped-def]
                         starts_at: datetime | None = None) -> Event:
    event = Event(organisation_id=org.id, submitted_by=rep.id, title="Toi", description="x",
                  starts_at=starts_at or NOW + timedelta(days=3), timezone="Europe/Berlin", latitude=52.52, longitude=13.405,
                  city="Berlin", category="culture", capacity=capacity, status=EventStatus.APPROVED.value)
    session.add(event)
    await session.flush()
    return event


# ---------------------------------------------------------------- typed values


@pytest.mark.parametrize("typed", ["25.12.2026 18:30", "2026-12-25 18:30", "25/12 18:30", "25.12.2026 18.30"])
def test_people_type_dates_in_several_ways(typed: str) -> None:
    assert ev.parse_local(typed, "Asia/Almaty", NOW) == datetime(2026, 12, 25, 18, 30)


def test_a_day_without_a_year_is_the_next_one_ahead() -> None:
    assert ev.parse_local("01/02 10:00", "Europe/Istanbul", NOW) == datetime(2027, 2, 1, 10, 0)


def test_a_time_alone_needs_a_chosen_day() -> None:
    assert ev.parse_local("9:05", "UTC", NOW, on_date=date(2026, 4, 1)) == datetime(2026, 4, 1, 9, 5)
    with pytest.raises(ev.InvalidEventField) as error:
        ev.parse_local("9:05", "UTC", NOW)
    assert error.value.reason == "date_format"


@pytest.mark.parametrize("typed", ["31.02.2026 10:00", "25.12.2026 25:00", "tomorrow", ""])
def test_impossible_dates_are_refused(typed: str) -> None:
    with pytest.raises(ev.InvalidEventField):
        ev.parse_local(typed, "UTC", NOW)


def test_wall_clock_times_become_the_right_instant_on_both_sides_of_a_clock_change() -> None:
    # Berlin moves to summer time on 29 March 2026 at 02:00.
    assert ev.to_utc(datetime(2026, 3, 28, 18, 30), "Europe/Berlin") == datetime(2026, 3, 28, 17, 30, tzinfo=UTC)
    assert ev.to_utc(datetime(2026, 3, 29, 18, 30), "Europe/Berlin") == datetime(2026, 3, 29, 16, 30, tzinfo=UTC)
    with pytest.raises(ev.InvalidEventField) as error:
        ev.to_utc(datetime(2026, 3, 29, 2, 30), "Europe/Berlin")
    assert error.value.reason == "nonexistent_time"


@pytest.mark.parametrize(
    ("start", "reason"),
    [(NOW - timedelta(minutes=1), "past"), (NOW + timedelta(days=731), "too_far")],
)
def test_past_and_far_starts_are_refused(start: datetime, reason: str) -> None:
    with pytest.raises(ev.InvalidEventField) as error:
        ev.check_start(start, NOW)
    assert error.value.reason == reason


def test_an_end_before_the_start_is_refused() -> None:
    with pytest.raises(ev.InvalidEventField) as error:
        ev.check_end(NOW, NOW - timedelta(hours=1))
    assert error.value.reason == "end_before_start"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("https://example.org/x?y=1", "https://example.org/x?y=1"), ("example.org", "https://example.org")],
)
def test_links_are_accepted_and_completed(raw: str, expected: str) -> None:
    assert ev.clean_link(raw) == expected


@pytest.mark.parametrize("raw", ["javascript:alert(1)", "ftp://example.org", "not a link", "https://localhost", "https://a.b/" + "x" * 300])
def test_invalid_links_are_refused(raw: str) -> None:
    with pytest.raises(ev.InvalidEventField):
        ev.clean_link(raw)


def test_overlong_text_is_refused() -> None:
    with pytest.raises(ev.InvalidEventField):
        ev.clean_title("x" * 121)
    assert ev.clean_title("  a   b ") == "a b"
    with pytest.raises(ev.InvalidEventField):
        ev.clean_description("x" * 2001)


def test_a_venue_is_found_by_address_and_city_or_refused() -> None:
    address, cities = ev.find_venue_cities("Kulturhaus, Hauptstraße 5, Berlin")
    assert address == "Kulturhaus, Hauptstraße 5" and cities[0].name == "Berlin"
    venue = ev.venue_from_city(cities[0], address)
    assert venue.timezone == "Europe/Berlin"
    with pytest.raises(ev.InvalidEventField) as error:
        ev.find_venue_cities("Somewhere, Qwxzzvbn")
    assert error.value.reason == "venue_not_found"
    assert ev.venue_from_location(43.2389, 76.8897).timezone == "Asia/Almaty"


# ---------------------------------------------------------------- roles and moderation


async def test_grant_and_revoke_are_audited_and_a_member_may_represent_several(session) -> None:  # type: ignore[no-untyped-def]
    rep = await add_member(session, 7001)
    first, second = await add_org(session, "A"), await add_org(session, "B")
    await ev.grant_role(session, 7001, first.id)
    await ev.grant_role(session, 7001, second.id)
    await ev.grant_role(session, 7001, second.id)  # idempotent
    assert [o.name for o in await ev.represented_organisations(session, rep)] == ["A", "B"]
    assert await ev.revoke_role(session, 7001, first.id) is True
    assert await ev.revoke_role(session, 7001, first.id) is False
    assert [o.name for o in await ev.represented_organisations(session, rep)] == ["B"]
    actions = (await session.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
    assert actions == ["role.granted", "role.granted", "role.revoked"]
    with pytest.raises(LookupError):
        await ev.grant_role(session, 99999, second.id)


async def test_only_a_representative_submits_and_the_secretariat_decides(session) -> None:  # type: ignore[no-untyped-def]
    org, other = await add_org(session), await add_org(session, "Other")
    rep, stranger, secretary = await add_member(session, 7101), await add_member(session, 7102), await add_member(session, 900)
    session.add(Role(member_id=rep.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    session.add(Role(member_id=stranger.id, role=RoleName.ORG_REP.value, organisation_id=other.id))
    await session.flush()
    with pytest.raises(ev.NotAllowed):
        await ev.submit_event(session, stranger, berlin_draft(org), NOW)
    event = await ev.submit_event(session, rep, berlin_draft(org), NOW)
    assert event.status == "pending"
    assert event.starts_at == datetime(2026, 3, 29, 16, 30, tzinfo=UTC), "18:30 summer time in Berlin"
    assert event.geo_cell is not None, "the ORM listener places it"
    for actor in (rep, stranger, None):
        with pytest.raises(ev.NotAllowed):
            await moderation.approve_event(session, actor, event.id, SECRETARIAT, NOW)
        with pytest.raises(ev.NotAllowed):
            await moderation.reject_event(session, actor, event.id, "no", SECRETARIAT, NOW)
    await moderation.reject_event(session, secretary, event.id, "Missing address", SECRETARIAT, NOW)
    assert (event.status, event.reject_reason) == ("rejected", "Missing address")
    with pytest.raises(ev.WrongStatus):
        await moderation.approve_event(session, secretary, event.id, SECRETARIAT, NOW)
    with pytest.raises(ev.NotAllowed):
        await ev.update_event(session, stranger, event.id, berlin_draft(org, title="Hijacked"), NOW)
    await ev.update_event(session, rep, event.id, berlin_draft(org, title="Nowruz"), NOW)
    assert (event.status, event.reject_reason, event.title) == ("pending", None, "Nowruz")
    assert (await moderation.pending_events(session))[1] == 1
    await moderation.approve_event(session, secretary, event.id, SECRETARIAT, NOW)
    assert event.status == "approved"
    # An approved event edited by its representative goes back to moderation.
    await ev.update_event(session, rep, event.id, berlin_draft(org, title="Nowruz 2"), NOW)
    assert event.status == "pending"
    entries = (await session.execute(select(AuditEntry.action, AuditEntry.actor_id, AuditEntry.details).order_by(AuditEntry.id))).all()
    decisions = [(a, actor, d.get("reason")) for a, actor, d in entries if a in ("event.approved", "event.rejected")]
    assert decisions == [("event.rejected", secretary.id, "Missing address"), ("event.approved", secretary.id, None)]
    assert all("at" in d for a, _, d in entries if a in ("event.approved", "event.rejected"))


async def test_a_trusted_organisation_is_published_at_once(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session, trusted=True)
    rep = await add_member(session, 7201)
    session.add(Role(member_id=rep.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    event = await ev.submit_event(session, rep, berlin_draft(org), NOW)
    assert event.status == "approved"


async def test_a_draft_is_validated_again_on_submission(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep = await add_member(session, 7301)
    session.add(Role(member_id=rep.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    for draft, reason in (
        (berlin_draft(org, start="2026-03-01T10:00"), "past"),
        (berlin_draft(org, end_local="2026-03-29T17:00"), "end_before_start"),
        (berlin_draft(org, link="javascript:x"), "link"),
        (berlin_draft(org, title="x" * 121), "title_too_long"),
    ):
        with pytest.raises(ev.InvalidEventField) as error:
            await ev.submit_event(session, rep, draft, NOW)
        assert error.value.reason == reason


async def test_cancelling_returns_everyone_who_answered(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep, a, b = await add_member(session, 7401), await add_member(session, 7402), await add_member(session, 7403)
    session.add(Role(member_id=rep.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    event = await approved_event(session, org, rep)
    await ev.set_rsvp(session, a, event.id, "going", 0, NOW)
    await ev.set_rsvp(session, b, event.id, "not_going", 0, NOW)
    with pytest.raises(ev.NotAllowed):
        await ev.cancel_event(session, a, event.id, NOW)
    cancelled, answered = await ev.cancel_event(session, rep, event.id, NOW)
    assert cancelled.status == "cancelled" and {m.id for m in answered} == {a.id, b.id}
    with pytest.raises(ev.EventNotFound):
        await ev.set_rsvp(session, a, event.id, "going", 0, NOW)


# ---------------------------------------------------------------- RSVP and the waitlist


async def test_capacity_counts_guests_and_the_waitlist_moves_in_order(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep = await add_member(session, 7500)
    event = await approved_event(session, org, rep, capacity=3)
    a, b, c, d = [await add_member(session, 7501 + i) for i in range(4)]
    assert not (await ev.set_rsvp(session, a, event.id, "going", 1, NOW)).rsvp.waitlisted  # 2 seats
    assert (await ev.set_rsvp(session, b, event.id, "going", 1, NOW)).rsvp.waitlisted  # 2 more do not fit
    assert (await ev.set_rsvp(session, c, event.id, "going", 0, NOW)).rsvp.waitlisted, "newcomers queue behind b"
    counts = await ev.rsvp_counts(session, event)
    assert (counts.going, counts.guests, counts.waitlisted, counts.seats_left) == (1, 1, 2, 1)
    with pytest.raises(ev.InvalidEventField):
        await ev.set_rsvp(session, a, event.id, "going", 3, NOW)  # more guests than places: the seat is kept
    result = await ev.set_rsvp(session, a, event.id, "not_going", None, NOW)
    assert [m.id for m in result.promoted] == [b.id, c.id]
    result = await ev.set_rsvp(session, d, event.id, "maybe", None, NOW)
    assert result.promoted == [] and not result.rsvp.waitlisted
    counts = await ev.rsvp_counts(session, event)
    assert (counts.going, counts.guests, counts.maybe, counts.waitlisted, counts.seats_left) == (2, 1, 1, 0, 0)


async def test_attendees_page_for_representatives_only(session) -> None:  # type: ignore[no-untyped-def]
    org, other = await add_org(session), await add_org(session, "Other")
    rep, other_rep = await add_member(session, 7600), await add_member(session, 7601)
    session.add(Role(member_id=rep.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    session.add(Role(member_id=other_rep.id, role=RoleName.ORG_REP.value, organisation_id=other.id))
    event = await approved_event(session, org, rep)
    for i in range(205):
        session.add(Member(telegram_id=80000 + i, display_name=f"<i>{i}</i>", registered_at=NOW))
    await session.flush()
    members = (await session.scalars(select(Member).where(Member.telegram_id >= 80000).order_by(Member.id))).all()
    session.add_all(Rsvp(event_id=event.id, member_id=m.id, status="going", guests=0, waitlisted=False) for m in members)
    await session.flush()
    page = await ev.attendees(session, rep, event.id, SECRETARIAT, 200, 50)
    assert (page.total, len(page.items), page.has_next) == (205, 5, False)
    with pytest.raises(ev.NotAllowed):
        await ev.attendees(session, other_rep, event.id, SECRETARIAT, 0, 50)


# ---------------------------------------------------------------- reminders


async def test_reminders_are_due_a_day_and_an_hour_before_and_never_twice(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep, member, quiet = await add_member(session, 7700), await add_member(session, 7701), await add_member(session, 7702)
    quiet.notify_reminders = False
    start = NOW + timedelta(days=2)
    event = await approved_event(session, org, rep, starts_at=start)
    await ev.set_rsvp(session, member, event.id, "going", 0, NOW)
    await ev.set_rsvp(session, quiet, event.id, "going", 0, NOW)
    assert await ev.due_reminders(session, start - timedelta(hours=25)) == []
    due = await ev.due_reminders(session, start - timedelta(hours=23, minutes=58))
    assert [(d.member.id, d.kind) for d in due] == [(member.id, "24h")]
    await ev.mark_reminded(session, due[0].rsvp_id, "24h")
    assert await ev.due_reminders(session, start - timedelta(hours=2)) == []
    due = await ev.due_reminders(session, start - timedelta(minutes=59))
    assert [(d.member.id, d.kind) for d in due] == [(member.id, "1h")]
    await ev.mark_reminded(session, due[0].rsvp_id, "1h")
    assert await ev.due_reminders(session, start - timedelta(minutes=30)) == []


async def test_a_late_run_sends_only_the_nearer_reminder(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep, member = await add_member(session, 7800), await add_member(session, 7801)
    start = NOW + timedelta(days=2)
    event = await approved_event(session, org, rep, starts_at=start)
    await ev.set_rsvp(session, member, event.id, "maybe", None, NOW)
    due = await ev.due_reminders(session, start - timedelta(minutes=30))
    assert [d.kind for d in due] == ["1h"]
    await ev.mark_reminded(session, due[0].rsvp_id, "1h")
    assert await ev.due_reminders(session, start - timedelta(minutes=10)) == []


# ---------------------------------------------------------------- audience


async def test_the_audience_is_followers_and_nearby_members_with_matching_interests(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep = await add_member(session, 7900)
    event = await approved_event(session, org, rep)  # Berlin, culture
    berlin_city = ev.event_city_id(event)
    fan = await add_member(session, 7901, latitude=41.0, longitude=29.0)
    await ev.follow(session, fan, organisation_id=org.id)
    city_fan = await add_member(session, 7902)
    await ev.follow(session, city_fan, city_id=berlin_city)
    near = await add_member(session, 7903, latitude=52.50, longitude=13.40, interests=["culture"], radius_km=25)
    await add_member(session, 7904, latitude=52.50, longitude=13.40, interests=["sports"], radius_km=25)  # other interests
    await add_member(session, 7905, latitude=53.55, longitude=10.0, interests=["culture"], radius_km=25)  # Hamburg, too far
    await add_member(session, 7906, latitude=52.50, longitude=13.40, interests=["culture"], notify_events=False)
    gone = await add_member(session, 7907, latitude=52.50, longitude=13.40, interests=["culture"])
    gone.is_active = False
    audience = await ev.event_audience(session, event)
    assert [m.id for m in audience] == [fan.id, city_fan.id, near.id]


def test_quiet_hours_are_in_the_members_own_time_zone() -> None:
    member = Member(telegram_id=1, quiet_start="22:00", quiet_end="08:00", timezone="Asia/Almaty")
    assert ev.in_quiet_hours(member, datetime(2026, 3, 20, 18, 0, tzinfo=UTC))  # 23:00 in Almaty
    assert not ev.in_quiet_hours(member, datetime(2026, 3, 20, 6, 0, tzinfo=UTC))  # 11:00 in Almaty
    member.quiet_start = member.quiet_end = None
    assert not ev.in_quiet_hours(member, datetime(2026, 3, 20, 18, 0, tzinfo=UTC))


# ---------------------------------------------------------------- calendars


@pytest.mark.parametrize(
    ("zone", "local", "expected_utc"),
    [
        ("Europe/Berlin", datetime(2026, 3, 28, 18, 30), datetime(2026, 3, 28, 17, 30, tzinfo=UTC)),  # before the change
        ("Europe/Berlin", datetime(2026, 3, 29, 18, 30), datetime(2026, 3, 29, 16, 30, tzinfo=UTC)),  # after it
        ("Europe/Berlin", datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),  # the repeated hour, first pass
        ("America/New_York", datetime(2026, 11, 1, 9, 0), datetime(2026, 11, 1, 14, 0, tzinfo=UTC)),
        ("Asia/Almaty", datetime(2026, 12, 25, 18, 30), datetime(2026, 12, 25, 13, 30, tzinfo=UTC)),
    ],
)
def test_an_ics_file_parses_back_to_the_same_instant(zone: str, local: datetime, expected_utc: datetime) -> None:
    starts = ev.to_utc(local, zone)
    assert starts == expected_utc
    event = Event(id=5, organisation_id=1, title="Toi", description="x", starts_at=starts, ends_at=starts + timedelta(hours=3),
                  timezone=zone, city="X", status="approved", created_at=NOW)
    parsed = icalendar.Calendar.from_ical(cal.event_ics(event, Organisation(name="Ala-Too"), NOW))
    vevent = next(iter(parsed.walk("VEVENT")))
    assert vevent.decoded("dtstart").astimezone(UTC) == expected_utc
    assert vevent.decoded("dtend").astimezone(UTC) == expected_utc + timedelta(hours=3)
    assert vevent["dtstart"].params["TZID"] == zone
    assert [tz["TZID"] for tz in parsed.walk("VTIMEZONE")] == [zone]


async def test_the_personal_feed_shows_answered_events_and_a_revoked_token_shows_nothing(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep, member = await add_member(session, 8100), await add_member(session, 8101)
    going = await approved_event(session, org, rep, starts_at=utcnow() + timedelta(days=3))
    await approved_event(session, org, rep, starts_at=utcnow() + timedelta(days=4))  # not answered
    await ev.set_rsvp(session, member, going.id, "going", 0, utcnow())
    token = await cal.issue_token(session, member)
    assert len(token) >= 32
    feed = icalendar.Calendar.from_ical(await cal.member_feed(session, token, utcnow()))
    assert [str(e["uid"]) for e in feed.walk("VEVENT")] == [f"event-{going.id}@kardes.bot"]
    assert await cal.member_feed(session, "x" * 32, utcnow()) is None
    newer = await cal.issue_token(session, member)
    assert await cal.member_feed(session, token, utcnow()) is None and newer != token
    await cal.revoke_token(session, member)
    assert await cal.member_feed(session, newer, utcnow()) is None


async def test_the_feed_is_served_over_http(session_factory) -> None:  # type: ignore[no-untyped-def]
    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web import ical_feed_handler

    async with session_factory() as session:
        org = await add_org(session)
        rep, member = await add_member(session, 8200), await add_member(session, 8201)
        event = await approved_event(session, org, rep, starts_at=utcnow() + timedelta(days=3))
        await ev.set_rsvp(session, member, event.id, "going", 0, utcnow())
        token = await cal.issue_token(session, member)
        await session.commit()
    app = web.Application()
    app.router.add_get("/ical/{token}.ics", ical_feed_handler(session_factory))
    async with TestClient(TestServer(app)) as client:
        response = await client.get(f"/ical/{token}.ics")
        assert response.status == 200 and response.content_type == "text/calendar"
        assert b"BEGIN:VEVENT" in await response.read()
        assert (await client.get("/ical/nope.ics")).status == 404


async def test_mydata_includes_answers_and_follows(session) -> None:  # type: ignore[no-untyped-def]
    org = await add_org(session)
    rep, member = await add_member(session, 8300), await add_member(session, 8301)
    event = await approved_event(session, org, rep)
    await ev.set_rsvp(session, member, event.id, "going", 2, NOW)
    await ev.follow(session, member, organisation_id=org.id)
    data = await ev.member_event_data(session, member)
    assert data["rsvps"][0]["status"] == "going" and data["rsvps"][0]["guests"] == 2
    assert data["follows"] == [{"city_id": None, "organisation_id": org.id}]
