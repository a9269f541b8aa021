"""The main menu's buttons, /profile and its edit buttons, /settings: one handler per test, the real
dispatcher over a recording bot, asserting what the member reads in their language."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import delete, select

from bot.i18n import LANGUAGE_NAMES
from db.models import Member
from tests.chat import msgid_starting, tr
from tests.factories import add_member, add_org
from tests.mocked_bot import Chat, answers, mocked_app, recording_bot, texts  # noqa: F401  (mocked_app: a fixture)

MEMBER = 700_001
LOCALE = "tr"
NOT_REGISTERED = "You are not registered yet. Send /start to begin."
MENU = ("📍 Near me", "📅 Events", "🎟 My events", "👤 My profile", "🔔 Notifications", "🌐 Language", "📄 My data", "❓ Help")
PROFILE_BUTTONS = ("✏️ Name", "✏️ Where I live", "✏️ Origin", "✏️ Languages", "✏️ Interests", "✏️ Notifications", "✏️ Bot language")
NOTIFICATIONS = ("<b>Notifications</b>\nAnnouncements are news from the diaspora agencies. “New events near me” tells you when an event "
                 "is published within your radius. During quiet hours (your local time) messages wait until morning.")


def t(msgid: str) -> str:
    return tr(msgid, LOCALE)


@pytest.fixture
async def chat(mocked_app, session) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A registered member who speaks Turkish to the bot, living in Berlin, with the main menu open."""
    await add_member(session, MEMBER, locale=LOCALE, display_name="Aylin", latitude=52.52, longitude=13.405,
                     city_name="Berlin", country_code="DE", timezone="Europe/Berlin", radius_km=25)
    await session.commit()
    bot, recorder = recording_bot()
    chat = Chat(mocked_app.dispatcher, bot, recorder, MEMBER)
    await chat.send("/start")
    yield chat
    await bot.session.close()


@pytest.fixture
async def stranger(mocked_app) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """Someone who never registered."""
    bot, recorder = recording_bot()
    yield Chat(mocked_app.dispatcher, bot, recorder, 700_999)
    await bot.session.close()


async def test_start_shows_a_registered_member_the_main_menu(chat) -> None:  # type: ignore[no-untyped-def]
    menu = chat.newest_with(t("📍 Near me"))
    assert menu["text"] == t("Welcome back, {name}! What would you like to do?").format(name="Aylin")
    assert [b["text"] for row in menu["reply_markup"]["inline_keyboard"] for b in row] == [t(label) for label in MENU]


async def test_near_me_lists_what_is_around_the_member(chat, session) -> None:  # type: ignore[no-untyped-def]
    await add_org(session, "Kardeş Evi", latitude=52.53, longitude=13.41, city="Berlin", country_code="DE")
    await session.commit()
    shown = await chat.press(t("📍 Near me"))
    assert len(texts(shown)) == 1 and "Kardeş Evi" in texts(shown)[0]
    assert texts(shown)[0].startswith(t("<b>Within {distance} of {place}</b>: {count} found").split("{")[0])
    assert answers(shown) == [None]


async def test_near_me_without_a_place_asks_for_the_location(chat, session) -> None:  # type: ignore[no-untyped-def]
    member = await session.scalar(select(Member).where(Member.telegram_id == MEMBER))
    member.latitude = member.longitude = None
    await session.commit()
    shown = await chat.press(t("📍 Near me"))
    assert texts(shown) == [t("Share your location with the button below to see what is near you.")]
    assert shown[0].params["reply_markup"]["keyboard"][0][0]["text"] == t("📍 Share my location")


async def test_my_profile_shows_what_is_stored_with_edit_buttons(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(t("👤 My profile"))
    assert texts(shown)[0].startswith(t("<b>Your profile</b>"))
    assert t("Name: {value}").format(value="Aylin") in texts(shown)[0]
    assert shown[0].buttons == [t(label) for label in PROFILE_BUTTONS]


async def test_notifications_open_the_settings_step(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(t("🔔 Notifications"))
    assert texts(shown) == [t(NOTIFICATIONS)]
    assert t("Done ▶") in shown[0].buttons and t("{mark}{km} km").format(mark="✅ ", km=25) in shown[0].buttons


async def test_language_offers_every_language_the_current_one_ticked(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(t("🌐 Language"))
    assert texts(shown) == [t("Choose your language:")]
    assert "✅ " + LANGUAGE_NAMES["tr"] in shown[0].buttons and LANGUAGE_NAMES["kk"] in shown[0].buttons


async def test_my_data_sends_the_file(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(t("📄 My data"))
    assert [(r.method, r.text) for r in shown if r.method != "AnswerCallbackQuery"] == [("SendDocument", t("Everything we keep about you."))]


async def test_help_lists_the_commands(chat) -> None:  # type: ignore[no-untyped-def]
    shown = await chat.press(t("❓ Help"))
    assert texts(shown) == [t(msgid_starting("<b>What I can do</b>"))]


@pytest.mark.parametrize("label", ["📍 Near me", "👤 My profile", "🔔 Notifications", "🌐 Language", "📄 My data", "❓ Help"])
async def test_the_menu_of_an_erased_member_says_to_register(chat, session, label: str) -> None:  # type: ignore[no-untyped-def]
    await session.execute(delete(Member))
    await session.commit()
    refused = await chat.press(t(label))
    assert answers(refused) == [tr(NOT_REGISTERED)] and texts(refused) == []


async def test_profile_and_settings_need_registration(stranger) -> None:  # type: ignore[no-untyped-def]
    assert texts(await stranger.send("/profile")) == [tr(NOT_REGISTERED)]
    assert texts(await stranger.send("/settings")) == [tr(NOT_REGISTERED)]


async def test_settings_opens_the_notifications_step(chat) -> None:  # type: ignore[no-untyped-def]
    assert texts(await chat.send("/settings")) == [t(NOTIFICATIONS)]


@pytest.mark.parametrize(
    ("label", "question"),
    [
        ("✏️ Name", "What should we call you? Send a name of up to 64 characters."),
        ("✏️ Where I live", "Where do you live? Type your city (in any language or script), or share your location with the button below."),
        ("✏️ Origin", "Which country do you or your family come from?"),
        ("✏️ Languages", "Which languages do you speak? Tap all that apply, then Done."),
        ("✏️ Interests", "What are you interested in? Tap all that apply, then Done."),
        ("✏️ Notifications", NOTIFICATIONS),
        ("✏️ Bot language", "Choose your language:"),
    ],
)
async def test_each_edit_button_asks_its_question(chat, label: str, question: str) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/profile")
    asked = await chat.press(t(label))
    assert answers(asked) == [None]
    assert len(texts(asked)) == 1 and texts(asked)[0].startswith(t(question))


async def test_an_edited_name_is_saved_and_the_profile_shown_again(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/profile")
    await chat.press(t("✏️ Name"))
    saved = await chat.send("Aylin Kaya")
    assert texts(saved)[0] == t("Saved.")
    assert t("Name: {value}").format(value="Aylin Kaya") in texts(saved)[1]
    again = await chat.send("/profile")
    assert t("Name: {value}").format(value="Aylin Kaya") in texts(again)[0], "stored, not just shown"


async def test_an_edited_interest_is_saved_without_asking_the_rest(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/profile")
    await chat.press(t("✏️ Interests"))
    await chat.press(t("Business"))
    saved = await chat.press(t("Done ▶"))
    assert texts(saved)[0] == "✅ " + t("Business") and texts(saved)[1] == t("Saved.")
    assert t("Interests: {value}").format(value=t("Business")) in texts(saved)[2]
