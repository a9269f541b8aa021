"""/events through the sandbox: events near the member first, then from what they follow, pages,
date filters (a day; past two years refused), and "My events" with each answer's status, in
several locales (Cyrillic among them)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bot.i18n import create_i18n, format_when, pgettext
from sandbox.client import SandboxUser
from bot.services import events as ev
from db.models import Event, EventStatus, Follow, Member, Organisation, Rsvp
from db.types import utcnow
from tests.chat import msgid_starting

I18N = create_i18n()
BERLIN = (52.52, 13.405)
ALMATY = (43.2567, 76.9286)


def tr(text: str, locale: str) -> str:
    return I18N.gettext(text, locale=locale)


def bare(html: str) -> str:
    return html.replace("<b>", "").replace("</b>", "")


def labels(entry: dict) -> list[str]:  # type: ignore[type-arg]
    return [b["text"] for row in (entry.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


async def member_in_berlin(session, user: SandboxUser, locale: str) -> Member:  # type: ignore[no-untyped-def]
    member = Member(telegram_id=user.id, locale=locale, display_name=user.first_name, registered_at=utcnow(),
                    latitude=BERLIN[0], longitude=BERLIN[1], city_name="Berlin", country_code="DE",
                    timezone="Europe/Berlin", radius_km=25, quiet_start=None, quiet_end=None)
    session.add(member)
    await session.flush()
    return member


async def organisation(session, name: str, place: tuple[float, float]) -> Organisation:  # type: ignore[no-untyped-def]
    org = Organisation(name=name, category="cultural_centre", latitude=place[0], longitude=place[1])
    session.add(org)
    await session.flush()
    return org


async def event(session, org: Organisation, title: str, starts_at: datetime, place: tuple[float, float],  # type: ignore[no-untyped-def]
                **fields) -> Event:
    values = dict(organisation_id=org.id, title=title, starts_at=starts_at, timezone="Europe/Berlin", latitude=place[0],
                  longitude=place[1], city="Berlin", category="culture", status=EventStatus.APPROVED.value)
    values.update(fields)
    item = Event(**values)
    session.add(item)
    await session.flush()
    return item


async def berlin_day(days: int, hour: int = 18) -> datetime:
    day = (utcnow() + timedelta(days=days)).astimezone(ev.zone_of("Europe/Berlin")).date()
    return ev.to_utc(datetime(day.year, day.month, day.day, hour, 30), "Europe/Berlin")


@pytest.mark.parametrize("locale", ["en", "kk", "tr"])
async def test_events_lists_near_ones_first_then_followed_and_pages(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7101, "Dana", language_code=locale)
    await client.register(user)
    member = await member_in_berlin(session, user, locale)
    near_host, far_host = await organisation(session, "Kiez Haus", BERLIN), await organisation(session, "Almaty Club", ALMATY)
    for n in range(6):
        await event(session, near_host, f"Near {n}", await berlin_day(2 + n), BERLIN)
    await event(session, far_host, "Followed far away", await berlin_day(1), ALMATY, city="Almaty", timezone="Asia/Almaty")
    other = await organisation(session, "Bosphorus Club", (41.0, 29.0))
    await event(session, other, "Not followed", await berlin_day(3), (41.0, 29.0), city="Istanbul")
    await event(session, near_host, "Long gone", utcnow() - timedelta(days=2), BERLIN)
    await event(session, near_host, "Still pending", await berlin_day(4), BERLIN, status=EventStatus.PENDING.value)
    session.add(Follow(member_id=member.id, organisation_id=far_host.id))
    await session.commit()

    first = (await client.send(user, "/events"))[-1]
    assert first["plain"].splitlines()[0] == bare(tr("<b>Upcoming events</b> near you and from what you follow: {count}", locale)).format(count=7)
    body = first["plain"]
    assert [f"Near {n}" in body for n in range(5)] == [True] * 5
    assert "Followed far away" not in body and "Not followed" not in body and "Long gone" not in body and "Still pending" not in body
    assert body.index("Near 0") < body.index("Near 4")  # soonest first, though the followed one is sooner
    when = format_when(await berlin_day(2), locale, "Europe/Berlin", "medium")
    assert when in body and ":00 " not in when
    buttons = labels(first)
    assert buttons[:5] == ["1", "2", "3", "4", "5"] and "▶" in buttons
    for label in ("All upcoming", "This week", "This month", "📆 Pick a day", "🎟 My events"):
        assert any(tr(label, locale) in text for text in buttons), label

    await client.press(user, "▶")
    second = await client.last_message(user.id)
    assert "Near 5" in second["plain"] and "Near 0" not in second["plain"]
    assert tr("🔔 From what you follow:", locale) in second["plain"]
    assert second["plain"].index("Near 5") < second["plain"].index("Followed far away")
    assert "◀" in labels(second) and "▶" not in labels(second)

    opened = await client.press(user, "7")
    card = [e for e in opened if e.get("type") == "message"][-1]
    assert "Followed far away" in card["plain"] and tr("Going", locale) in labels(card)


@pytest.mark.parametrize("locale", ["ru", "az", "en"])
async def test_a_day_filter_shows_that_day_and_refuses_the_past_and_beyond_two_years(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7201, "Ali", language_code=locale)
    await client.register(user)
    await member_in_berlin(session, user, locale)
    host = await organisation(session, "Kiez Haus", BERLIN)
    target = await berlin_day(9)
    await event(session, host, "On the day", target, BERLIN)
    await event(session, host, "The day after", await berlin_day(10), BERLIN)
    await session.commit()
    day = target.astimezone(ev.zone_of("Europe/Berlin")).date()

    reply = (await client.send(user, f"/events {day:%d.%m.%Y}"))[-1]
    assert "On the day" in reply["plain"] and "The day after" not in reply["plain"]
    assert reply["plain"].splitlines()[0].endswith(": 1")

    far = (utcnow() + timedelta(days=3 * 365)).date()
    refused = (await client.send(user, f"/events {far:%d.%m.%Y}"))[-1]
    assert refused["plain"] == tr("That is more than two years ahead. Please give a date within the next two years.", locale)
    past = (await client.send(user, "/events 01.01.2020"))[-1]
    assert past["plain"] == tr("That day has already passed. Please pick today or a later day.", locale)
    unreadable = (await client.send(user, "/events soon"))[-1]
    assert unreadable["plain"] == tr("I could not read that date. Send it like this: /events 25.12.2026", locale)

    await client.send(user, "/events")
    picker_entries = await client.press(user, tr("📆 Pick a day", locale))
    picker = await client.last_message(user.id)
    assert "/events 25.12.2026" in picker["plain"]
    assert str(day.day) in labels(picker)
    if day.month != utcnow().astimezone(ev.zone_of("Europe/Berlin")).month:
        await client.press(user, "▶")
    await client.press(user, str(day.day))
    shown = await client.last_message(user.id)
    assert "On the day" in shown["plain"] and "The day after" not in shown["plain"]
    assert picker_entries is not None


@pytest.mark.parametrize("locale", ["ky", "uz", "en"])
async def test_my_events_shows_each_answer_with_its_status(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7301, "Aibek", language_code=locale)
    await client.register(user)
    member = await member_in_berlin(session, user, locale)
    host = await organisation(session, "Kiez Haus", BERLIN)
    going = await event(session, host, "Going with friends", await berlin_day(2), BERLIN)
    maybe = await event(session, host, "Perhaps this", await berlin_day(3), BERLIN)
    waiting = await event(session, host, "Full house", await berlin_day(4), BERLIN, capacity=1)
    cancelled = await event(session, host, "Called off", await berlin_day(5), BERLIN, status=EventStatus.CANCELLED.value)
    declined = await event(session, host, "Not for me", await berlin_day(6), BERLIN)
    session.add_all([
        Rsvp(event_id=going.id, member_id=member.id, status="going", guests=2),
        Rsvp(event_id=maybe.id, member_id=member.id, status="maybe"),
        Rsvp(event_id=waiting.id, member_id=member.id, status="going", waitlisted=True),
        Rsvp(event_id=cancelled.id, member_id=member.id, status="going"),
        Rsvp(event_id=declined.id, member_id=member.id, status="not_going"),
    ])
    await session.commit()

    await client.send(user, "/start")  # the main menu of a registered member
    await client.press(user, tr("🎟 My events", locale))
    mine = await client.last_message(user.id)
    text = mine["plain"]
    assert text.splitlines()[0] == bare(tr("<b>My events</b>: {count}", locale)).format(count=4)
    assert "Not for me" not in text
    blocks = text.split("\n")
    def status_after(title: str) -> str:
        return blocks[blocks.index(next(line for line in blocks if title in line)) + 2].strip()
    guests = I18N.gettext("(+{count} guest)", "(+{count} guests)", 2, locale=locale).format(count=2)
    assert status_after("Going with friends") == f"✅ {tr('Going', locale)} {guests}"
    assert status_after("Perhaps this") == f"🤔 {tr('Maybe', locale)}"
    assert status_after("Full house") == f"⏳ {tr('on the waitlist', locale)}"
    with I18N.context(), I18N.use_locale(locale):
        assert status_after("Called off") == f"❌ {pgettext('event status', 'cancelled')}"
    assert tr("◀ Upcoming events", locale) in labels(mine)


@pytest.mark.parametrize("locale", ["kk", "tk", "en"])
async def test_help_and_the_main_menu_lead_to_events(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7401, "Merdan", language_code=locale)
    await client.register(user)
    await member_in_berlin(session, user, locale)
    await session.commit()
    help_text = (await client.send(user, "/help"))[-1]["plain"]
    assert "/events — " in help_text and help_text == bare(tr(msgid_starting("<b>What I can do</b>"), locale))
    menu = (await client.send(user, "/start"))[-1]
    assert tr("📅 Events", locale) in labels(menu) and tr("🎟 My events", locale) in labels(menu)
    await client.press(user, tr("📅 Events", locale))
    listed = await client.last_message(user.id)
    assert listed["plain"].splitlines()[0] == bare(tr("<b>Upcoming events</b> near you and from what you follow: {count}", locale)).format(count=0)
    assert tr("Nothing in this period.", locale) in listed["plain"]


@pytest.mark.parametrize(("chosen", "phone"), [("uz", "tr"), ("ru", "kk"), ("tk", "en")])
async def test_the_apology_for_a_failure_is_in_the_chosen_language_not_the_phones(running_bot, client, session, chosen, phone) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7501, "Gulnara", language_code=phone)
    await client.register(user)
    await member_in_berlin(session, user, chosen)
    await session.commit()
    await client.set_failure(user.id, "server_error", count=1)  # the reply to /events fails once
    replies = await client.send(user, "/events")
    texts = [e.get("plain") for e in replies if e.get("type") == "message"]
    assert texts == [tr("Sorry, something went wrong on our side. Please try again in a moment.", chosen)]
