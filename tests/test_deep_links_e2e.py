"""Deep links: every card carries its t.me link; /start e_<id> or o_<id> opens the card (for a
newcomer after registration); any other payload gets the normal welcome and changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from db.models import Event, EventStatus, FsmRecord, Member, Organisation
from db.types import utcnow
from tests.test_e2e_registration import register

I18N = create_i18n()
START = ("Hello! I am Kardeş, the bot of the Turkic-speaking diaspora. "
         "I will speak English with you. Tap your language to continue.")


def tr(text: str, locale: str) -> str:
    return I18N.gettext(text, locale=locale)


def labels(entry: dict) -> list[str]:  # type: ignore[type-arg]
    return [b["text"] for row in (entry.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def bot_messages(entries: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in entries if e.get("type") == "message"]


async def listed(session) -> tuple[Organisation, Event]:  # type: ignore[no-untyped-def]
    org = Organisation(name="Ala-Too <Centre>", category="cultural_centre", city="Berlin", country_code="DE",
                       latitude=52.52, longitude=13.40)
    session.add(org)
    await session.flush()
    event = Event(organisation_id=org.id, title="Nooruz & friends", starts_at=utcnow() + timedelta(days=6),
                  timezone="Europe/Berlin", latitude=52.52, longitude=13.40, city="Berlin", category="culture",
                  status=EventStatus.APPROVED.value)
    session.add(event)
    await session.commit()
    return org, event


async def registered(session, user: SandboxUser, locale: str) -> None:  # type: ignore[no-untyped-def]
    session.add(Member(telegram_id=user.id, locale=locale, display_name=user.first_name, registered_at=utcnow(),
                       timezone="Europe/Berlin", quiet_start=None, quiet_end=None))
    await session.commit()


@pytest.mark.parametrize("locale", ["ru", "kk", "tr"])
async def test_a_members_link_opens_the_event_card_which_carries_its_own_link(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    username = (await running_bot.bot.me()).username
    user = SandboxUser(8801, "Saule", language_code="en")
    await client.register(user)
    await registered(session, user, locale)
    org, event = await listed(session)

    card = bot_messages(await client.send(user, f"/start e_{event.id}"))[-1]
    assert "Nooruz & friends" in card["plain"]
    assert tr("🔗 Share: {link}", locale).format(link=f"https://t.me/{username}?start=e_{event.id}") in card["plain"]
    assert tr("Going", locale) in labels(card) and tr("Maybe", locale) in labels(card)

    await client.press(user, tr("Going", locale))  # the card re-rendered after an answer keeps its link
    again = await client.last_message(user.id)
    assert f"https://t.me/{username}?start=e_{event.id}" in again["plain"]

    organisation = bot_messages(await client.send(user, f"/start o_{org.id}"))[-1]
    assert "Ala-Too <Centre>" in organisation["plain"]
    assert f"https://t.me/{username}?start=o_{org.id}" in organisation["plain"]
    assert tr("📍 Show on map", locale) in labels(organisation)


async def test_a_link_to_something_gone_says_so_and_shows_the_menu(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(8802, "Bolat", language_code="ky")
    await client.register(user)
    await registered(session, user, "ky")
    texts = [e["plain"] for e in bot_messages(await client.send(user, "/start e_999999"))]
    assert texts[0] == tr("This entry is no longer listed.", "ky")
    assert texts[-1] == tr("Welcome back, {name}! What would you like to do?", "ky").format(name="Bolat")


@pytest.mark.parametrize("locale", ["kk", "uz"])
async def test_a_newcomer_registers_first_then_sees_the_card(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    _, event = await listed(session)
    user = SandboxUser(8803, "Timur", language_code="ru")
    welcome = bot_messages(await client.send(user, f"/start e_{event.id}"))
    assert [e["plain"] for e in welcome] == [tr(START, "ru")]
    last = await register(client, user, locale, name="Timur", city="Berlin", origin="KZ", language="kk", interest="culture")
    card = bot_messages(last)[-1]
    assert "Nooruz & friends" in card["plain"] and tr("Going", locale) in labels(card)


PAYLOADS = [
    "<script>alert(1)</script>",
    "Zk3_qW9-LmNo2PxR7sTuV4wXyA1bC8dEfGhIjK5lMnOpQ6rStUvWx0yZaBcDeF-g",  # 64 URL-safe characters, the longest payload
    bytes(range(160, 224)).decode("latin-1"),
    "ref_12345",  # another bot's format
    "e_0", "e_42abc", "x_1", "e_" + "9" * 30, "o_-3",
]


@pytest.mark.parametrize("payload", PAYLOADS)
async def test_a_payload_that_is_not_ours_gets_the_normal_welcome_and_changes_nothing(running_bot, client, session, payload) -> None:  # type: ignore[no-untyped-def]
    _, event = await listed(session)
    newcomer = SandboxUser(8804, "Aidos", language_code="kk")
    plain_start = [e["plain"] for e in bot_messages(await client.send(newcomer, "/start"))]
    with_payload = [e["plain"] for e in bot_messages(await client.send(newcomer, f"/start {payload}"))]
    assert with_payload == plain_start == [tr(START, "kk")]
    data = await session.scalar(select(FsmRecord.data).where(FsmRecord.key.like("%:8804:8804:%")))
    assert "open_after" not in (data or {})

    member = SandboxUser(8805, "Dina", language_code="tr")
    await client.register(member)
    await registered(session, member, "tr")
    replies = [e["plain"] for e in bot_messages(await client.send(member, f"/start {payload}"))]
    assert replies == [tr("Welcome back, {name}! What would you like to do?", "tr").format(name="Dina")]
