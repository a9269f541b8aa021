"""Registration's handlers one by one: the real dispatcher over a recording bot, the test database.
Each test asserts what the newcomer reads in their language; two look at the database at the
moment of the reply, to show the registration is stored before the bot says so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.commands import COMMANDS
from bot.i18n import LANGUAGE_NAMES
from bot.labels import country_label
from bot.services.registration import PRIVACY_VERSION
from db.models import Member
from tests.chat import msgid_starting, tr
from tests.mocked_bot import Chat, Request, mocked_app, recording_bot, texts  # noqa: F401  (mocked_app: a fixture)

NEWCOMER = 710_001
GREETING = "Hello! I am Kardeş, the bot of the Turkic-speaking diaspora. I will speak English with you. Tap your language to continue."
ASK_NAME = "What should we call you? Send a name of up to 64 characters."
REGISTERED = "You are registered. Welcome to the community! Here is what we keep about you:"


@pytest.fixture
async def chat(mocked_app) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A newcomer whose Telegram is set to Kazakh."""
    bot, recorder = recording_bot()
    yield Chat(mocked_app.dispatcher, bot, recorder, NEWCOMER, language_code="kk")
    await bot.session.close()


async def to_the_name(chat: Chat, locale: str = "kk") -> None:
    await chat.send("/start")
    await chat.press("✅ " + LANGUAGE_NAMES["kk"] if locale == "kk" else LANGUAGE_NAMES[locale])
    await chat.press(tr("I accept", locale))


async def register(chat: Chat, locale: str = "kk") -> list[Request]:
    """The whole questionnaire; the requests of its last step."""
    await to_the_name(chat, locale)
    await chat.send("Айгерім")
    cities = await chat.send("Алматы")
    await chat.press(cities[-1].buttons[0])
    await chat.press(country_label("KZ", locale))
    await chat.press(tr("Done ▶", locale))
    await chat.press(tr("Done ▶", locale))
    return await chat.press(tr("Done ▶", locale))


async def stored(session_factory) -> Member | None:  # type: ignore[no-untyped-def]
    async with session_factory() as other:
        return await other.scalar(select(Member).where(Member.telegram_id == NEWCOMER))


async def test_start_greets_a_newcomer_in_their_telegram_language(chat) -> None:  # type: ignore[no-untyped-def]
    greeted = await chat.send("/start")
    assert texts(greeted) == [tr(GREETING, "kk")]
    assert "✅ " + LANGUAGE_NAMES["kk"] in greeted[0].buttons and LANGUAGE_NAMES["ky"] in greeted[0].buttons


async def test_the_language_chosen_answers_at_once_and_asks_for_consent(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/start")
    chosen = await chat.press(LANGUAGE_NAMES["ky"])
    assert texts(chosen) == [tr("Language set: English. Send /help to see what I can do.", "ky"),
                             tr(msgid_starting("<b>Privacy notice</b>"), "ky").format(version=PRIVACY_VERSION)]
    assert chosen[-1].buttons == [tr("I accept", "ky"), tr("I decline", "ky")]


async def test_declining_stores_nothing(chat, session_factory) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/start")
    await chat.press("✅ " + LANGUAGE_NAMES["kk"])
    declined = await chat.press(tr("I decline", "kk"))
    assert texts(declined) == [tr("You declined, so nothing about you has been stored. Send /start whenever you want to come back.", "kk")]
    assert await stored(session_factory) is None


async def test_a_name_too_long_is_refused_with_the_reason(chat) -> None:  # type: ignore[no-untyped-def]
    await to_the_name(chat)
    assert texts(await chat.send("x" * 65)) == [tr("That name is too long: at most 64 characters, please.", "kk")]


async def test_start_in_the_middle_asks_the_current_question_again(chat) -> None:  # type: ignore[no-untyped-def]
    await to_the_name(chat)
    assert texts(await chat.send("/start")) == [tr(ASK_NAME, "kk")]


async def test_a_finished_registration_is_stored_before_the_bot_says_so(chat, session_factory) -> None:  # type: ignore[no-untyped-def]
    seen: list[Member | None] = []

    async def at_the_welcome(request: Request) -> None:
        if request.text == tr(REGISTERED, "kk"):
            seen.append(await stored(session_factory))

    chat.session.probes.append(at_the_welcome)
    finished = await register(chat)
    assert texts(finished)[:2] == [tr("Notification settings saved.", "kk"), tr(REGISTERED, "kk")]
    assert texts(finished)[2].startswith(tr("<b>Your profile</b>", "kk")) and "Айгерім" in texts(finished)[2]
    assert len(seen) == 1 and seen[0] is not None and seen[0].registered_at is not None and seen[0].display_name == "Айгерім"
    menu = next(r for r in finished if r.method == "SetMyCommands")
    assert menu.params["scope"] == {"type": "chat", "chat_id": NEWCOMER}
    assert [c["description"] for c in menu.params["commands"]] == [tr(text, "kk") for _command, text in COMMANDS]


async def test_a_registration_survives_a_crash_right_after_the_reply(chat, session_factory) -> None:  # type: ignore[no-untyped-def]
    async def crash_after_the_welcome(request: Request) -> None:
        if request.text.startswith(tr("<b>Your profile</b>", "kk")):
            raise RuntimeError("the process died")

    chat.session.probes.append(crash_after_the_welcome)
    finished = await register(chat)
    assert tr(REGISTERED, "kk") in texts(finished)
    member = await stored(session_factory)
    assert member is not None and member.registered_at is not None
    chat.session.probes.clear()
    assert texts(await chat.send("/start")) == [tr("Welcome back, {name}! What would you like to do?", "kk").format(name="Айгерім")]
