"""Numbers people type, end to end: the secretariat's role commands and the event form's places."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from bot.services import events as ev
from db.models import AuditEntry, Member, Organisation, Role, RoleName
from db.types import utcnow

I18N = create_i18n()
SECRETARIAT = 900
QUICK = 0.1  # each of these commands gets a one-message answer
HOSTILE = ["²", "¹²", "①", "１２", "-1", "−1", str(2**63), "9223372036854775808", "12345678901234567890", "1²", "٣"]


@pytest.fixture
def bot_settings(bot_settings):  # type: ignore[no-untyped-def]
    """These tests type about a hundred commands in a row: more than the test throttle's burst."""
    return bot_settings.model_copy(update={"throttle_rate": 1000.0, "throttle_burst": 1000})


def tr(text: str, locale: str = "en") -> str:
    return I18N.gettext(text, locale=locale)


def plain(entries: list[dict]) -> str:  # type: ignore[type-arg]
    return "\n".join(e.get("plain") or "" for e in entries if e.get("type") == "message" and not e.get("deleted"))


async def add_member(session, user: SandboxUser, locale: str = "en") -> Member:  # type: ignore[no-untyped-def]
    member = Member(telegram_id=user.id, locale=locale, display_name=user.first_name, registered_at=utcnow(),
                    quiet_start=None, quiet_end=None, timezone="Europe/Berlin")
    session.add(member)
    await session.flush()
    return member


async def snapshot(session_factory) -> tuple[int, int, list[bool]]:  # type: ignore[no-untyped-def]
    """What the role commands could change: roles, audit lines, trusted flags."""
    async with session_factory() as fresh:
        roles = await fresh.scalar(select(func.count()).select_from(Role))
        audit = await fresh.scalar(select(func.count()).select_from(AuditEntry))
        trusted = list((await fresh.scalars(select(Organisation.trusted).order_by(Organisation.id))).all())
    return roles, audit, trusted


@pytest.mark.slow
async def test_role_commands_answer_odd_digits_and_huge_ids_with_their_usage(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    secretary, target = SandboxUser(SECRETARIAT, "Secretariat", language_code="kk"), SandboxUser(7001, "Target")
    for user in (secretary, target):
        await client.register(user)
    await add_member(session, secretary, "kk")
    await add_member(session, target)
    org = Organisation(name="Ala-Too", category="cultural_centre")
    session.add(org)
    await session.commit()
    before = await snapshot(session_factory)

    two_ids = tr("Usage: /{command} <Telegram id> <organisation id>", "kk")
    one_id = tr("Usage: /{command} <organisation id>", "kk")
    assert two_ids != tr("Usage: /{command} <Telegram id> <organisation id>"), "the Kazakh catalogue translates the usage"
    for bad in HOSTILE:
        for command in ("grant", "revoke"):
            for args in (f"{bad} {org.id}", f"{target.id} {bad}", f"{bad} {bad}"):
                reply = plain(await client.send(secretary, f"/{command} {args}", settle=QUICK))
                assert reply == two_ids.format(command=command), (command, args, reply)
        for command in ("trust", "untrust"):
            reply = plain(await client.send(secretary, f"/{command} {bad}", settle=QUICK))
            assert reply == one_id.format(command=command), (command, bad, reply)
    assert await snapshot(session_factory) == before, "nothing changed in the database"

    # The same commands with plain numbers still work.
    await client.send(secretary, f"/trust {org.id}")
    assert (await snapshot(session_factory))[2] == [True]
    await client.send(secretary, f"/grant {target.id} {org.id}")
    assert (await snapshot(session_factory))[0] == 1


async def test_an_unknown_organisation_id_in_range_is_named_not_crashed(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    secretary = SandboxUser(SECRETARIAT, "Secretariat")
    await client.register(secretary)
    await add_member(session, secretary)
    await session.commit()
    biggest = 2**31 - 1  # the largest id an INTEGER column holds on PostgreSQL
    assert plain(await client.send(secretary, f"/trust {biggest}")) == tr("There is no organisation with id {id}.").format(id=biggest)
    assert plain(await client.send(secretary, f"/grant 5 {biggest}")) == tr("There is no organisation with id {id}.").format(id=biggest)
    # One more does not fit PostgreSQL's INTEGER (asyncpg raised): the usage, on both databases.
    assert plain(await client.send(secretary, f"/trust {biggest + 1}")) == tr("Usage: /{command} <organisation id>").format(command="trust")
    assert plain(await client.send(secretary, f"/grant 5 {biggest + 1}")) == tr(
        "Usage: /{command} <Telegram id> <organisation id>").format(command="grant")


async def reach_capacity_step(client, rep: SandboxUser) -> None:  # type: ignore[no-untyped-def]
    """Walk the event form up to "How many places are there?"."""
    await client.send(rep, "/submit_event")
    await client.send(rep, "Nowruz evening")
    await client.send(rep, "Music and food.")
    venue = await client.send(rep, "Kulturhaus, Berlin")
    if "evf:city" in str(venue[-1].get("reply_markup")):
        first = venue[-1]["reply_markup"]["inline_keyboard"][0][0]["text"]
        await client.press(rep, first)
    day = (utcnow() + timedelta(days=10)).astimezone(ev.zone_of("Europe/Berlin")).date()
    await client.send(rep, f"{day:%d.%m.%Y} 18:30")
    languages = await client.press(rep, tr("Skip ▶", "ru"))
    await client.press(rep, languages[-1]["reply_markup"]["inline_keyboard"][0][0]["text"])
    categories = await client.press(rep, tr("Done ▶", "ru"))
    asked = await client.press(rep, categories[-1]["reply_markup"]["inline_keyboard"][0][0]["text"])
    assert plain(asked).endswith(tr("How many places are there? Send a number, or skip if there is no limit.", "ru"))


async def test_the_places_step_refuses_superscripts_and_huge_numbers_and_keeps_the_draft(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    rep = SandboxUser(7101, "Rep", language_code="ru")
    await client.register(rep)
    member = await add_member(session, rep, "ru")
    org = Organisation(name="Ala-Too", category="cultural_centre")
    session.add(org)
    await session.flush()
    session.add(Role(member_id=member.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    await session.commit()
    await reach_capacity_step(client, rep)

    refused = tr("Please send the number of places as a whole number from 1 to 100000, or skip.", "ru")
    assert refused != tr("Please send the number of places as a whole number from 1 to 100000, or skip.")
    for bad in [*HOSTILE, "0", "100001", "1.5"]:
        assert plain(await client.send(rep, bad, settle=QUICK)) == refused, bad
    # Still at the same step: a plain number (grouped the Russian way) moves on to the link.
    moved = plain(await client.send(rep, "1\u00a0000"))
    assert moved != refused and tr("Sorry, something went wrong on our side. Please try again in a moment.", "ru") not in moved


@pytest.mark.parametrize("huge", [str(2**63), "9" * 40])
async def test_forged_buttons_with_huge_ids_get_a_clear_answer(running_bot, client, session, session_factory, huge: str) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7201, "Forger", language_code="tr")
    await client.register(user)
    await add_member(session, user, "tr")
    await session.commit()
    menu = await client.send(user, "/help")
    message_id = menu[-1]["message_id"]
    apology = tr("Sorry, something went wrong on our side. Please try again in a moment.", "tr")
    for data in (f"card:o:{huge}", f"map:e:{huge}", f"rsvp:{huge}:g:-1", f"ev:ics:{huge}:0", f"mod:ok:{huge}",
                 f"sched:cancel:{huge}", f"nb:1:1:{huge}:a:0:0:l", f"srch:{huge}", f"city:{huge}"):
        answers = [e for e in await client.forge_callback(user, message_id, data, settle=QUICK) if e.get("action") == "callback_answer"]
        assert answers and answers[-1]["text"] and answers[-1]["text"] != apology, data
        assert answers[-1]["text"] == tr("This menu has expired. Please start again.", "tr"), data


def test_numbers_in_button_payloads_are_range_checked_by_prefix() -> None:
    from bot.button_ids import ids_in_range
    from handlers import get_routers

    get_routers()  # imports every module that defines a factory, as the bot does

    assert ids_in_range("card:o:12") and ids_in_range("rsvp:5:g:-1") and ids_in_range("lang:kk") and ids_in_range("other:1")
    assert ids_in_range(f"card:o:{2**31 - 1}")
    for data in (f"card:o:{2**31}", f"card:o:{2**63}", f"rsvp:{2**63}:g:-1", f"rsvp:1:g:-{2**63}", f"ev:att:1:{2**63}",
                 f"nb:1:1:{10**20}:a:0:0:l", f"fresh:{2**63}:1", f"sched:edit:{2**63}"):
        assert not ids_in_range(data), data
