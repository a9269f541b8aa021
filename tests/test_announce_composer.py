"""The /announce composer, one branch per test: the real dispatcher over a recording bot (no Bot API
server), the test database for members, roles and the conversation state."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from bot.app import create_app
from bot.i18n import LANGUAGE_NAMES
from bot.labels import language_label
from db.models import Announcement, Role
from tests.chat import labels, tr
from tests.conftest import test_settings as settings_for
from tests.factories import add_member, make_secretariat
from tests.mocked_bot import Chat, answers, recording_bot, texts

SECRETARY = 900_001
EXPIRED = "This menu has expired. Please start again."
KAZAKH = language_label("kk", "en")


@pytest.fixture
async def app(database_url: str, session_factory):  # type: ignore[no-untyped-def]
    app = create_app(settings_for(database_url, "http://127.0.0.1:9", "42:TEST"))
    yield app
    await app.close()


@pytest.fixture
async def chat(app, session) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A secretary (role in the database, Berlin time) with the composer open on "Hello"."""
    secretary = await add_member(session, SECRETARY, timezone="Europe/Berlin")
    await make_secretariat(session, secretary)
    for n in range(3):
        await add_member(session, 800_000 + n, country_code="DE" if n else "FR", languages=["kk"] if n == 2 else ["tr"])
    await session.commit()
    bot, recorder = recording_bot()
    chat = Chat(app.dispatcher, bot, recorder, SECRETARY)
    await chat.send("/announce")
    await chat.send("Hello")
    yield chat
    await bot.session.close()


def menu_of(chat: Chat) -> str:
    return chat.newest_with(tr("✅ Confirm"))["text"]


async def test_the_menu_counts_everyone_at_first(chat) -> None:  # type: ignore[no-untyped-def]
    assert tr("Audience: {audience} — {count} members").format(audience=tr("everyone"), count=4) in menu_of(chat)


async def test_another_language_asks_for_its_text_and_adds_it(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("➕ Text in another language"))
    asked = await chat.press(LANGUAGE_NAMES["kk"])
    assert texts(asked) == [tr("Now send the text in {language}.").format(language=LANGUAGE_NAMES["kk"])]
    await chat.send("Сәлем")
    assert tr("Texts: {languages}").format(languages="English, " + LANGUAGE_NAMES["kk"]) in menu_of(chat)


async def test_languages_spoken_toggle_and_narrow_the_audience(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("👥 Audience"))
    shown = await chat.press(tr("Languages spoken"))
    assert texts(shown) == [tr("Members who speak any of these languages:")]
    toggled = await chat.press(KAZAKH)
    assert "✅ " + KAZAKH in toggled[0].buttons
    await chat.press(tr("◀ Back"))
    await chat.press(tr("◀ Back"))
    assert "— 1 member" in menu_of(chat)


async def test_a_forged_toggle_value_is_refused(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("👥 Audience"))
    await chat.press(tr("Languages spoken"))
    toggles = chat.newest_with(KAZAKH)
    real = next(b["callback_data"] for row in toggles["reply_markup"]["inline_keyboard"] for b in row if b["text"] == KAZAKH)
    refused = await chat.press_data(toggles, real.rsplit(":", 1)[0] + ":xx")
    assert answers(refused) == [tr(EXPIRED)], "the button guard: data that is not on the message"


async def test_countries_are_typed_and_named_in_the_menu(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("👥 Audience"))
    prompt = await chat.press(tr("Countries"))
    assert texts(prompt)[0].startswith(tr("Send the countries where members live, separated by commas (in any language), e.g. Germany, Türkiye.")[:20])
    unknown = await chat.send("Atlantis")
    assert texts(unknown) == [tr("I could not find: {names}. Please check the spelling and send the list again.").format(names="Atlantis")]
    await chat.send("Almanya")
    assert "— 2 members" in menu_of(chat)


async def test_everyone_resets_the_audience(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("👥 Audience"))
    await chat.press(tr("Countries"))
    await chat.send("Germany")
    assert "— 2 members" in menu_of(chat)
    audience = await chat.press(tr("👥 Audience"))
    assert "✅ " + tr("Countries") in audience[0].buttons, "a criterion that is set is ticked"
    await chat.press(tr("Everyone"))
    assert "— 4 members" in menu_of(chat)


async def test_a_time_in_the_secretarys_zone_and_a_bad_one(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    prompt = await chat.press(tr("At a date and time"))
    assert texts(prompt) == [tr("Send the date and time in your time zone ({zone}), e.g. 25.12.2026 18:30.").format(zone="Europe/Berlin")]
    bad = await chat.send("someday")
    assert texts(bad) == [tr("I could not read that date. Please send it like 25.12.2026 18:30.")]
    past = await chat.send("01.01.2020 10:00")
    assert texts(past) == [tr("That time has already passed. Please choose a time in the future.")]


async def test_weekly_asks_the_day_then_the_time(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    days = await chat.press(tr("Every week"))
    assert texts(days) == [tr("On which day of the week?")] and "Monday" in days[0].buttons
    await chat.press("Friday")
    assert texts(await chat.send("9 o'clock")) == [tr("Please send the time like 09:00.")]
    await chat.send("09:30")
    assert tr("every {weekday} at {clock} ({zone})").format(weekday="Friday", clock="09:30", zone="Europe/Berlin") in menu_of(chat)


async def test_now_after_a_schedule_goes_back_to_now(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Every day"))
    await chat.send("08:00")
    await chat.press(tr("⏰ When"))
    await chat.press(tr("Now"))
    assert tr("When: {when}").format(when=tr("now")) in menu_of(chat)


async def test_urgent_toggles(chat) -> None:  # type: ignore[no-untyped-def]
    label = tr("⚡ Urgent: {state}")
    await chat.press(label.format(state=tr("no")))
    assert label.format(state=tr("yes")) in labels(chat.newest_with(tr("✅ Confirm")))
    assert tr("Photo: {photo} · Link button: {link} · Urgent (ignores quiet hours): {urgent}").format(
        photo=tr("no"), link=tr("no"), urgent=tr("yes")) in menu_of(chat)


async def test_a_link_button_needs_a_web_address(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("🔗 Link button"))
    refused = await chat.send("example Read")
    assert texts(refused) == [tr("That does not look like a web address. Send it as https://… followed by the button text.")]
    await chat.send("https://example.org Read more")
    preview = await chat.press(tr("👁 Preview"))
    sent = [r for r in preview if r.method == "SendMessage" and r.text == "Hello"]
    assert sent and sent[0].buttons == ["Read more"], "the preview shows the message as members get it"


async def test_a_photo_is_shown_in_the_preview(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.press(tr("🖼 Photo"))
    await chat.send_photo()
    preview = await chat.press(tr("👁 Preview"))
    assert [r.params.get("caption") for r in preview if r.method == "SendPhoto"] == ["Hello"]


async def test_discard_forgets_the_draft(chat, session) -> None:  # type: ignore[no-untyped-def]
    discarded = await chat.press(tr("✖ Discard"))
    assert texts(discarded) == [tr("The announcement was discarded.")]
    assert await session.scalar(select(Announcement)) is None


async def test_confirm_schedules_for_the_audience(chat, session) -> None:  # type: ignore[no-untyped-def]
    confirmed = await chat.press(tr("✅ Confirm"))
    announcement = await session.scalar(select(Announcement))
    assert announcement is not None and announcement.texts == {"en": "Hello"}
    assert tr("Announcement #{id} confirmed for {count} members.").format(id=announcement.id, count=4) in texts(confirmed)


async def test_a_secretary_whose_role_was_revoked_is_refused_at_the_next_press(chat, session) -> None:  # type: ignore[no-untyped-def]
    await session.execute(delete(Role))
    await session.commit()
    refused = await chat.press(tr("👥 Audience"))
    assert answers(refused) == [tr("Only the secretariat can do this.")]
    assert texts(refused) == []
