"""/language one handler at a time: the real dispatcher over a recording bot, the test database.
The reply to a choice is already in the new language, and the choice is stored before it is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.i18n import LANGUAGE_NAMES
from db.models import Member
from tests.chat import msgid_starting, tr
from tests.factories import add_member
from tests.mocked_bot import Chat, Request, answers, mocked_app, recording_bot, texts  # noqa: F401  (mocked_app: a fixture)

MEMBER = 720_001
LANGUAGE_SET = "Language set: English. Send /help to see what I can do."


@pytest.fixture
async def chat(mocked_app, session) -> AsyncIterator[Chat]:  # type: ignore[no-untyped-def]
    """A registered member who reads English (their Telegram is Russian: the stored choice wins)."""
    await add_member(session, MEMBER, locale="en")
    await session.commit()
    bot, recorder = recording_bot()
    yield Chat(mocked_app.dispatcher, bot, recorder, MEMBER, language_code="ru")
    await bot.session.close()


async def stored_locale(session_factory, telegram_id: int = MEMBER) -> str | None:  # type: ignore[no-untyped-def]
    async with session_factory() as other:
        return await other.scalar(select(Member.locale).where(Member.telegram_id == telegram_id))


async def test_language_offers_every_language_with_the_current_one_ticked(chat) -> None:  # type: ignore[no-untyped-def]
    asked = await chat.send("/language")
    assert texts(asked) == [tr("Choose your language:")]
    assert asked[0].buttons == [("✅ " if code == "en" else "") + LANGUAGE_NAMES[code]
                                for code in ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en")]


async def test_a_member_switches_and_hears_the_new_language_at_once(chat) -> None:  # type: ignore[no-untyped-def]
    await chat.send("/language")
    chosen = await chat.press(LANGUAGE_NAMES["uz"])
    assert texts(chosen) == [tr(LANGUAGE_SET, "uz")] and answers(chosen) == [None]
    menu = next(r for r in chosen if r.method == "SetMyCommands")
    assert menu.params["scope"] == {"type": "chat", "chat_id": MEMBER}
    assert menu.params["commands"][-1]["description"] == tr("What this bot can do", "uz")
    assert texts(await chat.send("/help")) == [tr(msgid_starting("<b>What I can do</b>"), "uz")]


async def test_the_choice_is_stored_before_the_reply(chat, session_factory) -> None:  # type: ignore[no-untyped-def]
    seen: list[str | None] = []

    async def at_the_reply(request: Request) -> None:
        if request.method == "EditMessageText":
            seen.append(await stored_locale(session_factory))

    chat.session.probes.append(at_the_reply)
    await chat.send("/language")
    await chat.press(LANGUAGE_NAMES["tk"])
    assert seen == ["tk"]


async def test_a_newcomer_chooses_before_registering_and_is_greeted_in_it(mocked_app) -> None:  # type: ignore[no-untyped-def]
    bot, recorder = recording_bot()
    newcomer = Chat(mocked_app.dispatcher, bot, recorder, 720_999, language_code="en")
    await newcomer.send("/language")
    chosen = await newcomer.press(LANGUAGE_NAMES["az"])
    assert texts(chosen) == [tr(LANGUAGE_SET, "az")]
    assert not any(r.method == "SetMyCommands" for r in chosen), "no member, no per-chat menu"
    greeted = await newcomer.send("/start")
    assert texts(greeted)[0] == tr("Hello! I am Kardeş, the bot of the Turkic-speaking diaspora. "
                                   "I will speak English with you. Tap your language to continue.", "az")
    await bot.session.close()
