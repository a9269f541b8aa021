"""/announce and /scheduled through the sandbox: the secretariat composes, targets, confirms; others cannot."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sandbox.client import SandboxUser
from db.models import Announcement, Member, Role
from db.types import utcnow
from jobs.context import JobContext
from tests.chat import I18N, alert, shown, tr
from tests.chat import texts as texts_of
from tests.factories import add_members, run_due

SECRETARIAT = SandboxUser(900, "Secretariat", language_code="en")


@pytest.fixture
async def secretariat(session) -> Member:  # type: ignore[no-untyped-def]
    member = Member(telegram_id=900, display_name="Agency", locale="en", registered_at=utcnow(), timezone="Europe/Berlin")
    session.add(member)
    await session.commit()
    return member


async def compose(client, text: str) -> dict:  # type: ignore[no-untyped-def,type-arg]
    await client.send(SECRETARIAT, "/announce")
    return shown(await client.send(SECRETARIAT, text))


async def test_the_secretariat_targets_a_country_confirms_and_sees_the_report(  # type: ignore[no-untyped-def]
    running_bot, client, session, secretariat, bot_settings, session_factory
) -> None:
    berliners = await add_members(session, client, 3, start=12_000, country_code="DE")
    parisian = (await add_members(session, client, 1, start=12_100, country_code="FR"))[0].telegram_id
    chats = [m.telegram_id for m in berliners]
    menu = await compose(client, "Meeting on <b>Friday</b> & tea")
    assert tr("Audience: {audience} — {count} members").format(audience="everyone", count=5) in menu["plain"]
    await client.press(SECRETARIAT, tr("👥 Audience"))
    await client.press(SECRETARIAT, tr("Countries"))
    menu = shown(await client.send(SECRETARIAT, "Almanya"))
    assert tr("Audience: {audience} — {count} members").format(audience="living in Germany", count=3) in menu["plain"]
    confirmed = await client.press(SECRETARIAT, tr("✅ Confirm"))
    progress = shown(confirmed)
    announcement = await session.scalar(select(Announcement))
    assert announcement.audience == {"countries": ["DE"]}
    context = JobContext(bot_settings, session_factory, running_bot.bot, I18N)
    await run_due(context)
    for chat in chats:
        assert texts_of(await client.transcript(chat)) == ["Meeting on Friday & tea"]
    assert texts_of(await client.transcript(parisian)) == []
    report = next(e for e in await client.transcript(900) if e.get("message_id") == progress["message_id"])
    assert report["plain"].startswith("Announcement report") and "Sent: 3" in report["plain"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<b>bold without end", "Telegram would reject this formatting"),
        ("<blink>new</blink>", "Telegram would reject this formatting"),
    ],
)
async def test_bad_text_is_refused_before_anything_is_scheduled(running_bot, client, session, secretariat, text, expected) -> None:  # type: ignore[no-untyped-def]
    await add_members(session, client, 1, start=12_200)
    await client.send(SECRETARIAT, "/announce")
    replies = await client.send(SECRETARIAT, text)
    assert shown(replies)["plain"].startswith(expected)
    assert await session.scalar(select(Announcement)) is None


async def test_a_past_time_and_an_empty_audience_are_refused(running_bot, client, session, secretariat) -> None:  # type: ignore[no-untyped-def]
    await add_members(session, client, 1, start=12_300, country_code="DE")
    await compose(client, "Hello")
    await client.press(SECRETARIAT, tr("⏰ When"))
    await client.press(SECRETARIAT, tr("At a date and time"))
    past = await client.send(SECRETARIAT, "01.01.2020 10:00")
    assert shown(past)["plain"] == tr("That time has already passed. Please choose a time in the future.")
    await client.send(SECRETARIAT, "/announce")
    await client.send(SECRETARIAT, "Hello")
    await client.press(SECRETARIAT, tr("👥 Audience"))
    await client.press(SECRETARIAT, tr("Countries"))
    await client.send(SECRETARIAT, "Japan")
    refused = await client.press(SECRETARIAT, tr("✅ Confirm"))
    assert tr("No member matches this audience. Widen it: fewer criteria, more countries or a bigger radius.") in [
        a.get("plain") for a in refused]
    assert await session.scalar(select(Announcement)) is None


async def test_members_and_representatives_reach_no_step(running_bot, client, session, secretariat) -> None:  # type: ignore[no-untyped-def]
    member = SandboxUser(12_400, "Member", language_code="kk")
    refusal = shown(await client.send(member, "/announce"))
    assert refusal["plain"] == tr("Only the secretariat can do this.", "kk")
    assert shown(await client.send(member, "/scheduled"))["plain"] == tr("Only the secretariat can do this.", "kk")
    forged = await client.forge_callback(member, refusal["message_id"], "ann:confirm:")
    assert alert(forged) == tr("This menu has expired. Please start again.", "kk"), "a button that was never shown is refused"
    assert await session.scalar(select(Announcement)) is None


async def test_a_revoked_secretary_cannot_finish_what_they_started(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    await add_members(session, client, 1, start=12_500)
    former = Member(telegram_id=12_600, display_name="Former", locale="en", registered_at=utcnow())
    session.add(former)
    await session.flush()
    role = Role(member_id=former.id, role="secretariat")
    session.add(role)
    await session.commit()
    user = SandboxUser(12_600, "Former", language_code="en")
    await client.send(user, "/announce")
    await client.send(user, "Hello")
    await session.delete(role)
    await session.commit()
    refused = await client.press(user, tr("✅ Confirm"))
    assert alert(refused) == tr("Only the secretariat can do this.")
    assert await session.scalar(select(Announcement)) is None


async def test_scheduled_lists_and_cancels(running_bot, client, session, secretariat) -> None:  # type: ignore[no-untyped-def]
    await add_members(session, client, 1, start=12_700)
    await compose(client, "Later")
    await client.press(SECRETARIAT, tr("⏰ When"))
    await client.press(SECRETARIAT, tr("Every day"))
    await client.send(SECRETARIAT, "09:00")
    await client.press(SECRETARIAT, tr("✅ Confirm"))
    listing = shown(await client.send(SECRETARIAT, "/scheduled"))
    announcement = await session.scalar(select(Announcement))
    assert f"#{announcement.id}" in listing["plain"] and announcement.recurrence == "daily@09:00@Europe/Berlin"
    await client.press(SECRETARIAT, tr("✖ Cancel #{id}").format(id=announcement.id))
    await session.refresh(announcement)
    assert announcement.status == "cancelled"
    listing = shown(await client.send(SECRETARIAT, "/scheduled"))
    assert tr("Nothing is scheduled.") in listing["plain"], "the cancelled one is no longer listed as pending"


async def test_role_commands_explain_their_usage(running_bot, client, secretariat) -> None:  # type: ignore[no-untyped-def]
    usage = shown(await client.send(SECRETARIAT, "/grant"))
    assert usage["plain"] == tr("Usage: /{command} <Telegram id> <organisation id>").format(command="grant")
