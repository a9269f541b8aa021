"""A newcomer's first minute, end to end through the sandbox, in several languages."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.geo import country_name
from bot.i18n import LANGUAGE_NAMES
from bot.labels import language_label
from sandbox.client import SandboxUser
from db.models import AuditEntry, FsmRecord, Member
from tests.chat import first_button, labels, shown, tr
from tests.chat import texts as plain
from tests.harness import RunningBot

ASK_NAME = "What should we call you? Send a name of up to 64 characters."
ASK_PLACE = "Where do you live? Type your city (in any language or script), or share your location with the button below."
ASK_LANGUAGES = "Which languages do you speak? Tap all that apply, then Done."


async def press_language(client, user: SandboxUser, locale: str) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    """Press the language button, ticked or not."""
    last = await client.last_message(user.id)
    label = next(text for row in client.buttons(last) for text, _ in row if text.endswith(LANGUAGE_NAMES[locale]))
    return await client.press(user, label)


async def register(client, user: SandboxUser, locale: str, *, name: str, city: str, origin: str,  # type: ignore[no-untyped-def]
                   language: str, interest: str) -> list[dict]:  # type: ignore[type-arg]
    """Walk the whole questionnaire as `user`; returns the bot's last replies (the summary)."""
    await client.send(user, "/start")
    notice = shown(await press_language(client, user, locale))
    assert labels(notice) == [tr("I accept", locale), tr("I decline", locale)], "the consent question, in their language"
    assert "/mydata" in notice["plain"] and "/delete" in notice["plain"]
    await client.press(user, tr("I accept", locale))
    await client.send(user, name)
    suggestions = await client.send(user, city)
    await client.press(user, first_button(suggestions[-1]))
    await client.press(user, country_name(origin, locale))
    await client.press(user, language_label(language, locale))
    await client.press(user, tr("Done ▶", locale))
    interests = {"culture": "Culture and arts", "education": "Education and language", "business": "Business"}
    await client.press(user, tr(interests[interest], locale))
    await client.press(user, tr("Done ▶", locale))
    await client.press(user, tr("{mark}{km} km", locale).format(mark="", km=100))
    return await client.press(user, tr("Done ▶", locale))


@pytest.mark.parametrize(
    ("locale", "city", "origin", "expected_city", "expected_country"),
    [
        ("kk", "Алматы", "KZ", "Almaty", "KZ"),
        ("tr", "köln", "TR", "Köln", "DE"),
        ("en", "istanbul", "AZ", "Istanbul", "TR"),
    ],
)
async def test_a_newcomer_registers_in_their_language(  # type: ignore[no-untyped-def]
    running_bot, client, session, locale, city, origin, expected_city, expected_country
) -> None:
    user = SandboxUser(3001, "Aigerim", language_code="en")
    summary = await register(client, user, locale, name="Aigerim <b>&", city=city, origin=origin,
                             language="kk", interest="culture")
    text = "\n".join(plain(summary))
    assert tr("You are registered. Welcome to the community! Here is what we keep about you:", locale) in text
    assert "Aigerim <b>&" in text, "the name is shown literally, never as markup"
    assert country_name(origin, locale) in text
    member = await session.scalar(select(Member).where(Member.telegram_id == 3001))
    assert member is not None
    assert (member.display_name, member.locale, member.origin_country) == ("Aigerim <b>&", locale, origin)
    assert (member.city_name, member.country_code) == (expected_city, expected_country)
    assert member.languages == ["kk"] and member.interests == ["culture"]
    assert member.radius_km == 100 and (member.quiet_start, member.quiet_end) == ("22:00", "08:00")
    assert member.consent_version and member.consent_at is not None
    # A registered member who sends /start sees the main menu, not the questionnaire.
    again = await client.send(user, "/start")
    assert plain(again) == [tr("Welcome back, {name}! What would you like to do?", locale).format(name="Aigerim <b>&")]


async def test_a_shared_location_becomes_the_nearest_city_coarsened(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3002, "Murat", language_code="tr")
    await client.send(user, "/start")
    await press_language(client, user, "tr")
    await client.press(user, tr("I accept", "tr"))
    ask_place = await client.send(user, "Murat")
    assert plain(ask_place)[-1] == tr(ASK_PLACE, "tr")
    keyboard = await client.reply_keyboard(user.id)
    assert keyboard is not None and keyboard["keyboard"][0][0].get("request_location"), "a Share location button is offered"
    replies = await client.share_location(user, 52.516275, 13.377704)
    assert tr("Got it: {city}, {country}.", "tr").format(city="Berlin", country=country_name("DE", "tr")) in plain(replies)
    await client.press(user, country_name("TR", "tr"))
    again = await client.send(user, "/start")
    asked = tr(ASK_LANGUAGES, "tr") + "\n" + tr("Optional, sensitive data: tap Done with nothing chosen if you prefer not to say.", "tr")
    assert plain(again) == [asked], "/start asks the current question again, it does not start over"
    await client.press(user, language_label("tr", "tr"))
    await client.press(user, tr("Done ▶", "tr"))
    await client.press(user, tr("Done ▶", "tr"))
    await client.press(user, tr("Done ▶", "tr"))
    member = await session.scalar(select(Member).where(Member.telegram_id == 3002))
    assert (member.latitude, member.longitude) == (52.52, 13.38)
    assert member.timezone == "Europe/Berlin"


async def test_decline_stores_nothing(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3003, "Azamat", language_code="ky")
    await client.send(user, "/start")
    await press_language(client, user, "ky")
    replies = await client.press(user, tr("I decline", "ky"))
    assert tr("You declined, so nothing about you has been stored. Send /start whenever you want to come back.", "ky") in plain(replies)
    assert await session.scalar(select(func.count()).select_from(Member)) == 0
    assert await session.scalar(select(func.count()).select_from(FsmRecord).where(FsmRecord.state.is_not(None))) == 0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("x" * 65, "That name is too long: at most 64 characters, please."),
        ("Ali\x07", "The name contains invisible control characters. Please type it again."),
        ("\u200b", "The name contains invisible control characters. Please type it again."),
    ],
)
async def test_bad_names_are_refused_with_a_reason(running_bot, client, session, name, reason) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3004, "Aysel", language_code="az")
    await client.send(user, "/start")
    await press_language(client, user, "az")
    await client.press(user, tr("I accept", "az"))
    replies = await client.send(user, name)
    assert plain(replies) == [tr(reason, "az")]
    assert await session.scalar(select(func.count()).select_from(Member)) == 0
    accepted = await client.send(user, "Aysel")
    assert plain(accepted)[-1] == tr(ASK_PLACE, "az"), "the questionnaire waited for a valid name"


async def test_unknown_city_gets_suggestions_or_a_hint_never_a_crash(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3005, "Dilnoza", language_code="uz")
    await client.send(user, "/start")
    await press_language(client, user, "uz")
    await client.press(user, tr("I accept", "uz"))
    await client.send(user, "Dilnoza")
    typo = await client.send(user, "Tashkend")
    labels = [row[0]["text"] for row in typo[-1]["reply_markup"]["inline_keyboard"]]
    assert any(label.startswith("Toshkent") for label in labels) and len(labels) <= 5  # Tashkent, as Uzbek writes it
    nonsense = await client.send(user, "qqqqzzzzxxxx")
    assert plain(nonsense) == [tr("I could not find “{text}”. Check the spelling, try the name in another language, or share your location.", "uz").format(text="qqqqzzzzxxxx")]


async def test_stale_and_unexpected_input_changes_nothing(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3006, "Serik", language_code="kk")
    first = await client.send(user, "/start")
    await press_language(client, user, "kk")
    nudge = await client.send(user, "hello")  # text where the consent buttons are expected
    assert plain(nudge) == [tr("Please choose with the buttons above.", "kk")]
    old = await client.forge_callback(user, first[-1]["message_id"], "lang:en")
    answers = [a for a in old if a["type"] == "callback_answer"]
    assert answers[0]["text"] == tr("This menu has expired. Please start again.", "kk")
    accepted = await client.press(user, tr("I accept", "kk"))
    assert plain(accepted)[-1] == tr(ASK_NAME, "kk"), "the stale button changed neither the step nor the language"


async def test_a_restart_mid_registration_resumes_at_the_same_step(bot_settings, client, session_factory) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3007, "Emin", language_code="az")
    first = await RunningBot(bot_settings).start()
    await client.send(user, "/start")
    await press_language(client, user, "az")
    await client.press(user, tr("I accept", "az"))
    await client.send(user, "Emin")
    await first.stop()
    second = await RunningBot(bot_settings).start()
    try:
        replies = await client.send(user, "Bakı")
        assert replies[-1]["plain"] == tr("Which one is yours?", "az")
        assert first_button(replies[-1]).startswith("Bakı")  # Baku, as Azerbaijani writes it
    finally:
        await second.stop()


async def test_delete_erases_everything_and_mydata_shows_nothing_left(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3008, "Aibek", language_code="ky")
    await register(client, user, "ky", name="Айбек", city="Бишкек", origin="KG", language="ky", interest="business")
    export = await client.send(user, "/mydata")
    document = next(a for a in export if a.get("kind") == "document")
    data = json.loads(await client.document(document))
    assert data["profile"]["display_name"] == "Айбек" and data["profile"]["place"]["city"] == "Bishkek"
    await client.send(user, "/delete")
    erased = await client.press(user, tr("Yes, erase everything", "ky"))
    assert tr("All your data has been erased. Send /start if you ever want to come back.", "ky") in plain(erased)
    after = await client.send(user, "/mydata")
    assert plain(after) == [tr("We keep no data about you.", "ky")]
    assert await session.scalar(select(func.count()).select_from(Member)) == 0
    assert await session.scalar(select(func.count()).select_from(FsmRecord)) == 0, "no conversation state is left"
    audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "member.erased"))).all()
    assert len(audit) == 1 and audit[0].actor_id is None and "3008" not in json.dumps(audit[0].details)
    fresh = await client.send(user, "/start")
    assert fresh[-1]["reply_markup"]["inline_keyboard"], "a later /start starts the questionnaire afresh"


async def test_a_member_who_blocked_the_bot_is_inactive_until_they_write_again(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3009, "Mehmet", language_code="tr")
    await register(client, user, "tr", name="Mehmet", city="Berlin", origin="TR", language="tr", interest="education")
    await client.set_failure(user.id, "blocked")  # Telegram tells the bot with a my_chat_member update
    assert await client.idle(), "the bot handled the my_chat_member update"
    session.expire_all()
    member = await session.scalar(select(Member).where(Member.telegram_id == 3009))
    assert member.is_active is False
    await client.clear_failure(user.id)
    await client.send(user, "/help")
    session.expire_all()
    member = await session.scalar(select(Member).where(Member.telegram_id == 3009))
    assert member.is_active is True


async def test_profile_fields_can_be_edited(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3010, "Oguljan", language_code="tk")
    await register(client, user, "tk", name="Oguljan", city="Ashgabat", origin="TM", language="tk", interest="culture")
    await client.send(user, "/profile")
    await client.press(user, tr("✏️ Name", "tk"))
    saved = await client.send(user, "Ogulgerek")
    assert "Ogulgerek" in "\n".join(plain(saved))
    await client.send(user, "/settings")
    await client.press(user, tr("Announcements: {state}", "tk").format(state=tr("on", "tk")))
    await client.press(user, tr("Done ▶", "tk"))
    session.expire_all()
    member = await session.scalar(select(Member).where(Member.telegram_id == 3010))
    assert member.display_name == "Ogulgerek" and member.notify_announcements is False


async def test_coordinates_off_the_globe_are_refused(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3011, "Kanat", language_code="kk")
    await client.send(user, "/start")
    await press_language(client, user, "kk")
    await client.press(user, tr("I accept", "kk"))
    await client.send(user, "Kanat")
    forged = {"message_id": 900, "date": 0, "chat": {"id": user.id, "type": "private"},
              "from": {"id": user.id, "is_bot": False, "first_name": "Kanat", "language_code": "kk"},
              "location": {"latitude": 123.0, "longitude": 500.0}}
    replies = await client.inject("message", forged, user.id)
    assert plain(replies) == [tr("Those coordinates are not on Earth. Please share your location again or type your city.", "kk")]
    typed = await client.send(user, "Алматы")
    assert plain(typed)[-1] == tr("Which one is yours?", "kk"), "still at the place question"
    assert await session.scalar(select(Member.latitude).where(Member.telegram_id == 3011)) is None


async def test_whitespace_only_name_is_refused(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(3012, "Asel", language_code="ru")
    await client.send(user, "/start")
    await press_language(client, user, "ru")
    await client.press(user, tr("I accept", "ru"))
    # Official clients trim text, so only a modified one can send this.
    forged = {"message_id": 901, "date": 0, "chat": {"id": user.id, "type": "private"},
              "from": {"id": user.id, "is_bot": False, "first_name": "Asel", "language_code": "ru"}, "text": "   \u3000 "}
    replies = await client.inject("message", forged, user.id)
    assert plain(replies) == [tr("The name cannot be empty. Please send your name.", "ru")]
