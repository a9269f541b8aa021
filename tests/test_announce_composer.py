"""The /announce composer, one branch per test: the real dispatcher over a recording bot (no Bot API
server), the test database for members, roles and the conversation state. Each test asserts what
the secretary reads (texts in their language, buttons), not how the conversation is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta, timezone

import pytest
from babel.dates import get_day_names
from sqlalchemy import delete, event, select, update

from bot.geo import get_gazetteer
from bot.i18n import LANGUAGE_NAMES
from bot.services import announcements as ann
from bot.labels import language_label, language_list
from db.models import Announcement, AnnouncementStatus, Delivery, DeliveryStatus, Member, Role
from db.types import utcnow
from tests.chat import labels, ntr, tr
from tests.factories import add_member, make_secretariat
from tests.mocked_bot import Chat, Request, answers, mocked_app, recording_bot, texts  # noqa: F401  (mocked_app: a fixture)

SECRETARY = 900_001
EXPIRED = "This menu has expired. Please start again."
USE_THE_BUTTONS = "Please use the buttons, or send what the last message asks for. /announce starts over."
NOT_FOUND = "I could not find: {names}. Please check the spelling and send the list again."
RADIUS_UNREADABLE = "I could not read that. Send a city and a number (Berlin 50) or coordinates and a number (52.52 13.40 50)."
LINK_REFUSED = "That does not look like a web address. Send it as https://… followed by the button text."
AUDIENCE = ("Audience: {audience} — {count} member", "Audience: {audience} — {count} members")
KAZAKH = language_label("kk", "en")


@pytest.fixture
def secretary_locale() -> str:
    """The secretary's language (a test parametrizes it to see the composer in another one)."""
    return "en"


@pytest.fixture
async def fresh(mocked_app, session, secretary_locale: str) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A secretary (role in the database, Berlin time) and three members: in France (speaks
    Turkish), in Germany (Turkish), in Germany (Kazakh)."""
    secretary = await add_member(session, SECRETARY, locale=secretary_locale, timezone="Europe/Berlin")
    await make_secretariat(session, secretary)
    for n in range(3):
        await add_member(session, 800_000 + n, country_code="DE" if n else "FR", languages=["kk"] if n == 2 else ["tr"])
    await session.commit()
    bot, recorder = recording_bot()
    yield Chat(mocked_app.dispatcher, bot, recorder, SECRETARY)
    await bot.session.close()


@pytest.fixture
async def chat(fresh: Chat) -> Chat:
    """The composer open on the text "Hello"."""
    await fresh.send("/announce")
    await fresh.send("Hello")
    return fresh


def menu_of(chat: Chat, locale: str = "en") -> str:
    return chat.newest_with(tr("✅ Confirm", locale))["text"]


def audience_line(audience: str, count: int, locale: str = "en") -> str:
    return ntr(*AUDIENCE, count, locale).format(audience=audience, count=count)


async def open_criterion(chat: Chat, label: str) -> list:  # type: ignore[type-arg]
    await chat.press(tr("👥 Audience"))
    return await chat.press(tr(label))


# --- the text -------------------------------------------------------------------------------

async def test_announce_asks_for_the_text_in_the_secretarys_language(fresh) -> None:  # type: ignore[no-untyped-def]
    asked = await fresh.send("/announce")
    assert texts(asked) == [tr("Send the announcement text in {language}. Bold, italic and links are kept. "
                               "Or choose another language first.").format(language=LANGUAGE_NAMES["en"])]
    assert "✅ " + LANGUAGE_NAMES["en"] in asked[0].buttons and LANGUAGE_NAMES["kk"] in asked[0].buttons


@pytest.mark.parametrize("secretary_locale", ["kk"])
async def test_a_kazakh_secretary_composes_in_kazakh(fresh) -> None:  # type: ignore[no-untyped-def]
    asked = await fresh.send("/announce")
    assert texts(asked)[0] == tr("Send the announcement text in {language}. Bold, italic and links are kept. "
                                 "Or choose another language first.", "kk").format(language=LANGUAGE_NAMES["kk"])
    menu = (await fresh.send("Сәлем"))[-1]
    assert tr("Texts: {languages}", "kk").format(languages=LANGUAGE_NAMES["kk"]) in menu.text
    assert audience_line(tr("everyone", "kk"), 4, "kk") in menu.text
    assert tr("👥 Audience", "kk") in menu.buttons and tr("✅ Confirm", "kk") in menu.buttons
    assert tr("👥 Audience", "kk") != tr("👥 Audience"), "the Kazakh catalogue translates the menu"


async def test_another_language_first_files_the_text_under_it(fresh) -> None:  # type: ignore[no-untyped-def]
    await fresh.send("/announce")
    asked = await fresh.press(LANGUAGE_NAMES["kk"])
    assert texts(asked) == [tr("Now send the text in {language}.").format(language=LANGUAGE_NAMES["kk"])]
    await fresh.send("Сәлем")
    assert tr("Texts: {languages}").format(languages=LANGUAGE_NAMES["kk"]) in menu_of(fresh)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>bold without end", tr("Telegram would reject this formatting: {reason}. Please fix the text and send it again.").split("{")[0]),
        ("x" * 4097, tr("This text is {length} characters long; Telegram allows {limit}. Please shorten it.").format(length=4097, limit=4096)),
    ],
)
async def test_a_text_telegram_would_refuse_is_refused_with_the_reason(fresh, text: str, expected: str) -> None:  # type: ignore[no-untyped-def]
    await fresh.send("/announce")
    refused = await fresh.send(text)
    assert len(texts(refused)) == 1 and texts(refused)[0].startswith(expected)
    assert not any(tr("✅ Confirm") in r.buttons for r in refused), "no menu until the text is good"


async def test_a_photo_instead_of_the_text_asks_for_what_was_asked(fresh) -> None:  # type: ignore[no-untyped-def]
    await fresh.send("/announce")
    assert texts(await fresh.send_photo()) == [tr(USE_THE_BUTTONS)]


async def test_another_language_asks_for_its_text_and_adds_it(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(tr("➕ Text in another language"))
    assert texts(shown) == [tr("Which language? A member gets their own language, else English, else the first text.")]
    assert "✅ " + LANGUAGE_NAMES["en"] in shown[0].buttons, "the language already written is ticked"
    asked = await chat.press(LANGUAGE_NAMES["kk"])
    assert texts(asked) == [tr("Now send the text in {language}.").format(language=LANGUAGE_NAMES["kk"])]
    await chat.send("Сәлем")
    assert tr("Texts: {languages}").format(languages="English, " + LANGUAGE_NAMES["kk"]) in menu_of(chat)


async def test_typing_while_the_menu_is_shown_points_at_the_buttons(chat) -> None:  # type: ignore[no-untyped-def]
    assert texts(await chat.send("what now?")) == [tr(USE_THE_BUTTONS)]


# --- the audience -----------------------------------------------------------------------------

async def test_the_menu_counts_everyone_at_first(chat) -> None:  # type: ignore[no-untyped-def]
    assert audience_line(tr("everyone"), 4) in menu_of(chat)


async def test_the_audience_menu_lists_every_criterion(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(tr("👥 Audience"))
    assert texts(shown) == [tr("Who should receive it? Criteria combine: a member must match each one you set.")]
    assert shown[0].buttons == ["✅ " + tr("Everyone"), tr("Countries"), tr("Cities"), tr("Within a radius"), tr("Languages spoken"),
                                tr("Interests"), tr("Countries of origin"), tr("◀ Back")]


async def test_languages_spoken_toggle_and_narrow_the_audience(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await open_criterion(chat, "Languages spoken")
    assert texts(shown) == [tr("Members who speak any of these languages:")]
    toggled = await chat.press(KAZAKH)
    assert "✅ " + KAZAKH in toggled[0].buttons
    await chat.press(tr("◀ Back"))
    await chat.press(tr("◀ Back"))
    assert audience_line(tr("speaking {languages}").format(languages=language_list(["kk"], "en")), 1) in menu_of(chat)


async def test_a_language_pressed_twice_is_unticked(chat) -> None:  # type: ignore[no-untyped-def]
    await open_criterion(chat, "Languages spoken")
    await chat.press(KAZAKH)
    untoggled = await chat.press("✅ " + KAZAKH)
    assert KAZAKH in untoggled[0].buttons and "✅ " + KAZAKH not in untoggled[0].buttons
    await chat.press(tr("◀ Back"))
    await chat.press(tr("◀ Back"))
    assert audience_line(tr("everyone"), 4) in menu_of(chat)


async def test_interests_toggle_and_narrow_the_audience(chat, session) -> None:  # type: ignore[no-untyped-def]
    await add_member(session, 800_010, interests=["culture"])
    await session.commit()
    shown = await open_criterion(chat, "Interests")
    assert texts(shown) == [tr("Members interested in any of these:")]
    culture = tr("Culture and arts")
    assert "✅ " + culture in (await chat.press(culture))[0].buttons
    await chat.press(tr("◀ Back"))
    await chat.press(tr("◀ Back"))
    assert audience_line(tr("interested in {interests}").format(interests=culture), 1) in menu_of(chat)


async def test_a_forged_toggle_value_is_refused(chat) -> None:  # type: ignore[no-untyped-def]
    await open_criterion(chat, "Languages spoken")
    toggles = chat.newest_with(KAZAKH)
    real = next(b["callback_data"] for row in toggles["reply_markup"]["inline_keyboard"] for b in row if b["text"] == KAZAKH)
    refused = await chat.press_data(toggles, real.rsplit(":", 1)[0] + ":xx")
    assert answers(refused) == [tr(EXPIRED)], "the button guard: data that is not on the message"


async def test_countries_are_typed_and_named_in_the_menu(chat) -> None:  # type: ignore[no-untyped-def]
    prompt = await open_criterion(chat, "Countries")
    assert texts(prompt) == [tr("Send the countries where members live, separated by commas (in any language), e.g. Germany, Türkiye.")]
    unknown = await chat.send("Atlantis")
    assert texts(unknown) == [tr(NOT_FOUND).format(names="Atlantis")]
    await chat.send("Almanya")
    assert audience_line(tr("living in {places}").format(places="Germany"), 2) in menu_of(chat)


async def test_one_unknown_country_among_known_ones_is_named(chat) -> None:  # type: ignore[no-untyped-def]
    await open_criterion(chat, "Countries")
    assert texts(await chat.send("Germany, Atlantis, France")) == [tr(NOT_FOUND).format(names="Atlantis")]


async def test_cities_are_typed_and_named_in_the_menu(chat, session) -> None:  # type: ignore[no-untyped-def]
    berlin = get_gazetteer().search("Berlin", limit=1)[0]
    await add_member(session, 800_011, city_id=berlin.geoname_id, country_code="DE")
    await session.commit()
    prompt = await open_criterion(chat, "Cities")
    assert texts(prompt) == [tr("Send the cities, separated by commas, e.g. Berlin, Köln, Алматы.")]
    assert texts(await chat.send("Qwxzv")) == [tr(NOT_FOUND).format(names="Qwxzv")]
    await chat.send("Berlin")
    assert audience_line(tr("in the cities {places}").format(places=berlin.name), 1) in menu_of(chat)


async def test_origins_are_typed_and_named_in_the_menu(chat, session) -> None:  # type: ignore[no-untyped-def]
    await add_member(session, 800_012, origin_country="KZ")
    await session.commit()
    prompt = await open_criterion(chat, "Countries of origin")
    assert texts(prompt) == [tr("Send the countries of origin, separated by commas, e.g. Kazakhstan, Kyrgyzstan.")]
    await chat.send("Kazakhstan")
    assert audience_line(tr("from {places}").format(places="Kazakhstan"), 1) in menu_of(chat)


async def test_a_radius_around_coordinates(chat, session) -> None:  # type: ignore[no-untyped-def]
    await add_member(session, 800_013, latitude=52.5, longitude=13.4)
    await add_member(session, 800_014, latitude=48.1, longitude=11.6)  # Munich: too far
    await session.commit()
    prompt = await open_criterion(chat, "Within a radius")
    assert texts(prompt) == [tr("Send a place and a radius in km: a city and a number (Berlin 50), or coordinates and a number (52.52 13.40 50).")]
    await chat.send("52.52 13.40 50")
    assert audience_line(tr("within {km} km of {lat}, {lon}").format(km=50, lat=52.52, lon=13.4), 1) in menu_of(chat)


async def test_a_radius_around_a_city(chat, session) -> None:  # type: ignore[no-untyped-def]
    await add_member(session, 800_013, latitude=52.5, longitude=13.4)
    await session.commit()
    berlin = get_gazetteer().search("Berlin", limit=1)[0]
    await open_criterion(chat, "Within a radius")
    await chat.send("Berlin 30")
    assert audience_line(tr("within {km} km of {lat}, {lon}").format(km=30, lat=berlin.latitude, lon=berlin.longitude), 1) in menu_of(chat)


@pytest.mark.parametrize("typed", ["95 13.4 50", "52.52 200 50", "Berlin", "Berlin zero", "Qwxzv 20", "Berlin 0"])
async def test_a_radius_off_the_globe_or_unreadable_is_refused(chat, typed: str) -> None:  # type: ignore[no-untyped-def]
    await open_criterion(chat, "Within a radius")
    assert texts(await chat.send(typed)) == [tr(RADIUS_UNREADABLE)]


async def test_everyone_resets_the_audience(chat) -> None:  # type: ignore[no-untyped-def]
    await open_criterion(chat, "Countries")
    await chat.send("Germany")
    assert "— 2 members" in menu_of(chat)
    audience = await chat.press(tr("👥 Audience"))
    assert "✅ " + tr("Countries") in audience[0].buttons, "a criterion that is set is ticked"
    await chat.press(tr("Everyone"))
    assert audience_line(tr("everyone"), 4) in menu_of(chat)


# --- when -----------------------------------------------------------------------------------

async def test_when_offers_now_a_moment_and_repeats(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(tr("⏰ When"))
    assert texts(shown) == [tr("When should it go out?")]
    assert shown[0].buttons == [tr("Now"), tr("At a date and time"), tr("Every day"), tr("Every week"), tr("◀ Back")]


async def test_a_time_in_the_secretarys_zone_and_a_bad_one(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    prompt = await chat.press(tr("At a date and time"))
    assert texts(prompt) == [tr("Send the date and time in your time zone ({zone}), e.g. 25.12.2026 18:30.").format(zone="Europe/Berlin")]
    bad = await chat.send("someday")
    assert texts(bad) == [tr("I could not read that date. Please send it like 25.12.2026 18:30.")]
    past = await chat.send("01.01.2020 10:00")
    assert texts(past) == [tr("That time has already passed. Please choose a time in the future.")]


async def test_a_later_moment_is_shown_and_scheduled_in_the_secretarys_zone(chat, session) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    await chat.press(tr("At a date and time"))
    await chat.send("25.12.2030 18:30")
    menu = menu_of(chat)
    assert "Dec 25, 2030" in menu and "6:30" in menu and "Berlin" in menu
    confirmed = await chat.press(tr("✅ Confirm"))
    announcement = await session.scalar(select(Announcement))
    assert announcement.send_at == datetime(2030, 12, 25, 17, 30, tzinfo=timezone.utc), "18:30 in Berlin is 17:30 UTC"
    assert any(t.startswith(tr("Waiting to be sent: {when}.").split("{when}")[0]) and "Dec 25, 2030" in t for t in texts(confirmed))


async def test_every_day_asks_the_time(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    prompt = await chat.press(tr("Every day"))
    assert texts(prompt) == [tr("Send the time of day in your time zone ({zone}), e.g. 09:00.").format(zone="Europe/Berlin")]
    assert texts(await chat.send("soon")) == [tr("Please send the time like 09:00.")]
    await chat.send("08:00")
    assert tr("every day at {clock} ({zone})").format(clock="08:00", zone="Europe/Berlin") in menu_of(chat)


async def test_weekly_asks_the_day_then_the_time(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    days = await chat.press(tr("Every week"))
    assert texts(days) == [tr("On which day of the week?")] and "Monday" in days[0].buttons
    asked = await chat.press("Friday")
    assert texts(asked) == [tr("Send the time of day in your time zone ({zone}), e.g. 09:00.").format(zone="Europe/Berlin")]
    assert texts(await chat.send("9 o'clock")) == [tr("Please send the time like 09:00.")]
    await chat.send("09:30")
    assert tr("every {weekday} at {clock} ({zone})").format(weekday="Friday", clock="09:30", zone="Europe/Berlin") in menu_of(chat)


async def test_a_weekly_announcement_is_confirmed_and_listed(chat, session) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Every week"))
    await chat.press("Friday")
    await chat.send("09:30")
    confirmed = await chat.press(tr("✅ Confirm"))
    waiting = tr("Waiting to be sent: {when}.").format(
        when=tr("every {weekday} at {clock} ({zone})").format(weekday="Friday", clock="09:30", zone="Europe/Berlin"))
    assert waiting in texts(confirmed)
    listed = (await chat.send("/scheduled"))[-1]
    number = await session.scalar(select(Announcement.id))
    every_friday = tr("every {weekday} at {clock} ({zone})").format(weekday="Friday", clock="09:30", zone="Europe/Berlin")
    assert f"⟳ {every_friday}" in listed.text and tr("✖ Cancel #{id}").format(id=number) in listed.buttons


@pytest.mark.parametrize("secretary_locale", ["kk"])
async def test_scheduled_names_the_repeat_in_the_secretarys_language(fresh, session) -> None:  # type: ignore[no-untyped-def]
    weekly = ann.recurrence_text(time(18, 0), "Asia/Almaty", weekday=4)
    await ann.schedule(session, ann.Draft({"kk": "Сәлем"}, {}, send_at=ann.next_occurrence(weekly, utcnow()), recurrence=weekly), None)
    await session.commit()
    listed = (await fresh.send("/scheduled"))[-1]
    friday = get_day_names("wide", locale="kk")[4]
    every = tr("every {weekday} at {clock} ({zone})", "kk").format(weekday=friday, clock="18:00", zone="Asia/Almaty")
    assert f"⟳ {every}" in listed.text and "weekly" not in listed.text


async def test_now_after_a_schedule_goes_back_to_now(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Every day"))
    await chat.send("08:00")
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Now"))
    assert tr("When: {when}").format(when=tr("now")) in menu_of(chat)


# --- photo, link, urgent, back ------------------------------------------------------------------

async def test_urgent_toggles_on_and_off(chat) -> None:  # type: ignore[no-untyped-def]
    label = tr("⚡ Urgent: {state}")
    await chat.press(label.format(state=tr("no")))
    assert label.format(state=tr("yes")) in labels(chat.newest_with(tr("✅ Confirm")))
    assert tr("Photo: {photo} · Link button: {link} · Urgent (ignores quiet hours): {urgent}").format(
        photo=tr("no"), link=tr("no"), urgent=tr("yes")) in menu_of(chat)
    await chat.press(label.format(state=tr("yes")))
    assert label.format(state=tr("no")) in labels(chat.newest_with(tr("✅ Confirm")))


async def test_back_from_a_sub_menu_shows_the_menu_again(chat) -> None:  # type: ignore[no-untyped-def]
    for step in ("➕ Text in another language", "⏰ When", "👥 Audience"):
        await chat.press(tr(step))
        back = await chat.press(tr("◀ Back"))
        assert texts(back)[0].startswith(tr("<b>New announcement</b>")) and tr("✅ Confirm") in back[0].buttons


async def test_a_link_button_needs_a_web_address(chat) -> None:  # type: ignore[no-untyped-def]
    prompt = await chat.press(tr("🔗 Link button"))
    assert texts(prompt) == [tr("Send the address and the button text, e.g. https://example.org Read more")]
    for bad in ("example Read", "javascript:alert(1) Read", "ftp://example.org Read"):
        assert texts(await chat.send(bad)) == [tr(LINK_REFUSED)], bad
    await chat.send("https://example.org Read more")
    assert tr("Photo: {photo} · Link button: {link} · Urgent (ignores quiet hours): {urgent}").format(
        photo=tr("no"), link="https://example.org", urgent=tr("no")) in menu_of(chat)
    preview = await chat.press(tr("👁 Preview"))
    sent = [r for r in preview if r.method == "SendMessage" and r.text == "Hello"]
    assert sent and sent[0].buttons == ["Read more"], "the preview shows the message as members get it"


async def test_a_link_without_a_scheme_or_a_label_gets_both(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("🔗 Link button"))
    await chat.send("example.org/news")
    preview = await chat.press(tr("👁 Preview"))
    sent = next(r for r in preview if r.method == "SendMessage" and r.text == "Hello")
    assert sent.buttons == ["https://example.org/news"]


async def test_a_photo_is_shown_in_the_preview(chat) -> None:  # type: ignore[no-untyped-def]
    prompt = await chat.press(tr("🖼 Photo"))
    assert texts(prompt) == [tr("Send the photo (its caption is not used; the text is). Texts with a photo may be up to 1024 characters.")]
    assert texts(await chat.send("a text instead")) == [tr(USE_THE_BUTTONS)]
    menu = (await chat.send_photo())[-1]
    assert tr("Photo: {photo} · Link button: {link} · Urgent (ignores quiet hours): {urgent}").format(
        photo=tr("yes"), link=tr("no"), urgent=tr("no")) in menu.text
    preview = await chat.press(tr("👁 Preview"))
    assert [r.params.get("caption") for r in preview if r.method == "SendPhoto"] == ["Hello"]


async def test_a_photo_is_refused_when_the_text_is_too_long_for_a_caption(fresh) -> None:  # type: ignore[no-untyped-def]
    await fresh.send("/announce")
    await fresh.send("x" * 1500)
    await fresh.press(tr("🖼 Photo"))
    refused = await fresh.send_photo()
    assert texts(refused) == [tr("This text is {length} characters long; Telegram allows {limit}. Please shorten it.").format(length=1500, limit=1024)]


# --- preview, confirm, discard ------------------------------------------------------------------

async def test_the_preview_shows_each_language_then_the_menu(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("➕ Text in another language"))
    await chat.press(LANGUAGE_NAMES["kk"])
    await chat.send("Сәлем")
    preview = await chat.press(tr("👁 Preview"))
    assert texts(preview)[:4] == [tr("Preview — {language}:").format(language=LANGUAGE_NAMES["en"]), "Hello",
                                  tr("Preview — {language}:").format(language=LANGUAGE_NAMES["kk"]), "Сәлем"]
    assert tr("✅ Confirm") in preview[-1].buttons, "the menu again, below the preview"
    assert answers(preview) == [None]


async def test_discard_forgets_the_draft(chat, session) -> None:  # type: ignore[no-untyped-def]
    discarded = await chat.press(tr("✖ Discard"))
    assert texts(discarded) == [tr("The announcement was discarded.")]
    assert discarded[0].buttons == []
    assert await session.scalar(select(Announcement)) is None
    assert texts(await chat.send("Hello again")) == [tr("I didn't understand that. Send /help to see what I can do.")], "the composer is closed"


async def test_confirm_schedules_for_the_audience(chat, session) -> None:  # type: ignore[no-untyped-def]
    confirmed = await chat.press(tr("✅ Confirm"))
    announcement = await session.scalar(select(Announcement))
    assert announcement is not None and announcement.texts == {"en": "Hello"}
    assert tr("Announcement #{id} confirmed for {count} members.").format(id=announcement.id, count=4) in texts(confirmed)
    assert tr("Waiting to be sent: {when}.").format(when=tr("now")) in texts(confirmed)


async def test_confirm_refuses_an_audience_nobody_matches(chat, session) -> None:  # type: ignore[no-untyped-def]
    await open_criterion(chat, "Countries of origin")
    await chat.send("Turkmenistan")
    assert "— 0 members" in menu_of(chat)
    refused = await chat.press(tr("✅ Confirm"))
    assert texts(refused) == [tr("No member matches this audience. Widen it: fewer criteria, more countries or a bigger radius.")]
    assert await session.scalar(select(Announcement)) is None
    assert menu_of(chat), "the menu stays, to widen the audience"


async def test_confirm_says_how_many_it_reaches_now_counting_the_audience_once(chat, mocked_app, session) -> None:  # type: ignore[no-untyped-def]
    assert "— 4 members" in menu_of(chat)
    await add_member(session, 800_030)  # joins while the menu is shown
    await session.commit()
    counted: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if "notify_announcements" in statement.partition("WHERE")[2]:  # the audience's query (announcements.audience_members)
            counted.append(statement)

    event.listen(mocked_app.engine.sync_engine, "before_cursor_execute", count)
    try:
        confirmed = await chat.press(tr("✅ Confirm"))
    finally:
        event.remove(mocked_app.engine.sync_engine, "before_cursor_execute", count)
    number = await session.scalar(select(Announcement.id))
    assert tr("Announcement #{id} confirmed for {count} members.").format(id=number, count=5) in texts(confirmed)
    assert len(counted) == 1, "scheduling counts the audience; the confirmation says that number"


async def test_confirm_commits_before_each_reply(chat, session_factory) -> None:  # type: ignore[no-untyped-def]
    seen: dict[str, list[str]] = {}

    async def stored(request: Request) -> None:  # what another connection finds at the moment of each Bot API call
        if request.method in ("EditMessageText", "SendMessage", "AnswerCallbackQuery"):
            async with session_factory() as other:
                seen[request.method] = list((await other.scalars(select(Announcement.status))).all())

    chat.session.probes.append(stored)
    confirmed = await chat.press(tr("✅ Confirm"))
    assert [r.method for r in confirmed] == ["EditMessageText", "SendMessage", "AnswerCallbackQuery"]
    assert seen == {method: [AnnouncementStatus.SCHEDULED.value] for method in seen} and len(seen) == 3, \
        "the announcement is committed before the bot tells the secretary, and no write waits on Telegram"


async def test_a_weekly_repeat_in_a_zone_too_long_to_store_is_refused_when_the_time_is_typed(fresh, session) -> None:  # type: ignore[no-untyped-def]
    await session.execute(update(Member).where(Member.telegram_id == SECRETARY).values(timezone="America/Los_Angeles"))
    await session.commit()
    await fresh.send("/announce")
    await fresh.send("Hello")
    await fresh.press(tr("⏰ When"))
    await fresh.press(tr("Every week"))
    await fresh.press("Friday")
    refused = await fresh.send("09:30")
    assert texts(refused)[0] == tr("A repeating announcement cannot be kept for the time zone {zone}. "
                                   "Please choose a date and time instead.").format(zone="America/Los_Angeles")
    assert tr("When: {when}").format(when=tr("now")) in texts(refused)[1], "the menu again, with nothing scheduled"
    await fresh.press(tr("⏰ When"))
    await fresh.press(tr("Every day"))  # a daily one fits
    await fresh.send("09:30")
    assert tr("every day at {clock} ({zone})").format(clock="09:30", zone="America/Los_Angeles") in menu_of(fresh)


async def test_confirm_nudges_the_worker_once_the_announcement_is_committed(chat, mocked_app, session_factory) -> None:  # type: ignore[no-untyped-def]
    seen: list[int] = []

    async def nudge() -> None:  # what the worker would find, from its own session
        async with session_factory() as other:
            seen.extend((await other.scalars(select(Announcement.progress_message_id))).all())

    mocked_app.dispatcher["nudge_worker"] = nudge
    confirmed = await chat.press(tr("✅ Confirm"))
    progress = next(r for r in confirmed if r.method == "SendMessage")
    assert seen == [progress.result.message_id], "committed with its progress message before the nudge"


async def test_a_secretary_whose_role_was_revoked_is_refused_at_the_next_press(chat, session) -> None:  # type: ignore[no-untyped-def]
    await session.execute(delete(Role))
    await session.commit()
    refused = await chat.press(tr("👥 Audience"))
    assert answers(refused) == [tr("Only the secretariat can do this.")]
    assert texts(refused) == []


async def test_a_member_without_the_role_cannot_start(mocked_app, session) -> None:  # type: ignore[no-untyped-def]
    await add_member(session, 800_020)
    await session.commit()
    bot, recorder = recording_bot()
    member = Chat(mocked_app.dispatcher, bot, recorder, 800_020)
    assert texts(await member.send("/announce")) == [tr("Only the secretariat can do this.")]
    assert texts(await member.send("/scheduled")) == [tr("Only the secretariat can do this.")]


# --- /scheduled ------------------------------------------------------------------------------

async def test_scheduled_is_empty_at_first(fresh) -> None:  # type: ignore[no-untyped-def]
    listed = (await fresh.send("/scheduled"))[-1]
    assert listed.text == "\n".join([tr("<b>Scheduled and recurring</b>"), tr("Nothing is scheduled."), "", tr("<b>Sent</b>"),
                                     tr("Nothing has been sent yet.")])


async def test_scheduled_shows_each_sent_announcements_figures_including_members_who_left(fresh, session) -> None:  # type: ignore[no-untyped-def]
    members = (await session.scalars(select(Member.id).where(Member.telegram_id.between(800_000, 800_002)).order_by(Member.id))).all()
    done = Announcement(texts={"en": "Sent"}, audience={}, status=AnnouncementStatus.DONE.value, send_at=utcnow(), sent_count=3)
    upcoming = Announcement(texts={"en": "Later", "kk": "Кейін"}, audience={}, status=AnnouncementStatus.SCHEDULED.value,
                            send_at=utcnow() + timedelta(days=1))
    session.add_all([done, upcoming])
    await session.flush()
    for member_id, status in zip(members, (DeliveryStatus.SENT, DeliveryStatus.BLOCKED, DeliveryStatus.FAILED)):
        session.add(Delivery(announcement_id=done.id, member_id=member_id, status=status.value, attempts=1))
    await session.commit()
    listed = (await fresh.send("/scheduled"))[-1]
    assert tr("#{id} · {status} · sent {sent}, blocked {blocked}, failed {failed}").format(
        id=done.id, status=tr("sent"), sent=3, blocked=1, failed=1) in listed.text, "3 sent: two of them erased themselves since"
    assert f"#{upcoming.id} · " in listed.text and "Later" in listed.text
    assert listed.buttons == [tr("✖ Cancel #{id}").format(id=upcoming.id), tr("✏️ Edit #{id}").format(id=upcoming.id)]


async def _schedule_daily(chat: Chat, clock: str) -> None:
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Every day"))
    await chat.send(clock)
    await chat.press(tr("✅ Confirm"))


async def test_a_scheduled_announcement_is_cancelled_once(chat, session) -> None:  # type: ignore[no-untyped-def]
    await _schedule_daily(chat, "07:00")
    number = await session.scalar(select(Announcement.id))
    await chat.send("/scheduled")
    cancel = tr("✖ Cancel #{id}").format(id=number)
    assert answers(await chat.press(cancel)) == [tr("Announcement #{id} cancelled.").format(id=number)]
    assert answers(await chat.press(cancel)) == [tr("This announcement can no longer be changed.")]
    listed = (await chat.send("/scheduled"))[-1]
    assert tr("Nothing is scheduled.") in listed.text
    assert tr("#{id} · {status} · sent {sent}, blocked {blocked}, failed {failed}").format(
        id=number, status=tr("cancelled"), sent=0, blocked=0, failed=0) in listed.text


async def test_editing_a_scheduled_announcement_replaces_it(chat, session) -> None:  # type: ignore[no-untyped-def]
    await _schedule_daily(chat, "07:00")
    first = await session.scalar(select(Announcement.id))
    await chat.send("/scheduled")
    menu = (await chat.press(tr("✏️ Edit #{id}").format(id=first)))[-1]
    assert tr("every day at {clock} ({zone})").format(clock="07:00", zone="Europe/Berlin") in menu.text, "the draft is the scheduled one"
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Every day"))
    await chat.send("19:00")
    confirmed = await chat.press(tr("✅ Confirm"))
    statuses = dict((await session.execute(select(Announcement.id, Announcement.status))).all())
    second = max(statuses)
    assert tr("Announcement #{id} confirmed for {count} members.").format(id=second, count=4) in texts(confirmed)
    assert statuses == {first: AnnouncementStatus.CANCELLED.value, second: AnnouncementStatus.SCHEDULED.value}
