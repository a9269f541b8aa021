"""Directory freshness: representatives confirm every 90 days; unanswered entries are hidden."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from aiogram import Bot
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_bot
from bot.config import Settings
from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from bot.services.freshness import confirm, due_for_confirmation, hide_stale, record_ask
from db.models import AuditEntry, Member, Organisation, Role, RoleName
from db.types import utcnow
from jobs.context import JobContext, set_context
from jobs.freshness import run_freshness

I18N = create_i18n()
NAME = "Ala-Too <b>& Co"
SECRETARIAT = 900  # bot_settings: SECRETARIAT_IDS=900

ASK = (
    "Every three months we ask representatives to check their organisation's entry in the directory.\n\n"
    "Is the entry for <b>{name}</b> still correct?\n\n"
    "If nobody answers three requests, the entry is hidden from the directory."
)
THANKS = "Thank you! The entry for <b>{name}</b> is confirmed for another three months."
REFUSED = "Only a representative of this organisation can answer this."
NEEDS_CHANGES = (
    "Thank you for telling us. Please write to the secretariat what needs to change in the entry for "
    "<b>{name}</b>. Once it is up to date, press “Still correct” above."
)
HIDDEN = "<b>{name}</b> was hidden from the directory: its representatives did not answer three requests to confirm the entry."
HIDDEN_NO_REPS = (
    "<b>{name}</b> was hidden from the directory after three requests to confirm the entry: "
    "it has no representative who could answer."
)


def tr(text: str, locale: str = "en") -> str:
    return I18N.gettext(text, locale=locale)


def shown(text: str, locale: str = "en", **values: str) -> str:
    """What a member reads: the translated text with markup removed (values are shown literally)."""
    return tr(text, locale).format(**values).replace("<b>", "", 1).replace("</b>", "", 1)


def messages(entries: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [e for e in entries if e.get("type") == "message" and not e.get("deleted")]


async def add_org(session: AsyncSession, name: str, *, confirmed: datetime | None, created: datetime) -> Organisation:
    org = Organisation(name=name, category="culture", last_confirmed_at=confirmed, created_at=created)
    session.add(org)
    await session.flush()
    return org


async def add_member(session: AsyncSession, telegram_id: int, locale: str = "en") -> Member:
    member = Member(telegram_id=telegram_id, locale=locale, display_name=f"M{telegram_id}", registered_at=utcnow())
    session.add(member)
    await session.flush()
    return member


async def appoint(session: AsyncSession, member: Member, org: Organisation) -> None:
    session.add(Role(member_id=member.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    await session.flush()


async def reload(factory: async_sessionmaker[AsyncSession], model: type, id_: int):  # type: ignore[no-untyped-def]
    async with factory() as fresh:
        return await fresh.get(model, id_)


async def run_job(settings: Settings, factory: async_sessionmaker[AsyncSession], now: datetime, bot: Bot | None = None) -> None:
    """Run one freshness round against the sandbox, as the worker would."""
    own = bot is None
    job_bot = create_bot(settings) if bot is None else bot
    set_context(JobContext(settings, factory, job_bot))
    try:
        await run_freshness(JobContext(settings, factory, job_bot), now)
    finally:
        set_context(None)
        if own:
            await job_bot.session.close()


# ---------------------------------------------------------------- the rules, on the database


async def test_an_entry_is_due_ninety_days_after_confirmation_and_reasked_weekly(session) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    fresh = await add_org(session, "Fresh", confirmed=now - timedelta(days=89), created=now - timedelta(days=400))
    stale = await add_org(session, "Stale", confirmed=now - timedelta(days=91), created=now - timedelta(days=400))
    new = await add_org(session, "New", confirmed=None, created=now - timedelta(days=30))
    old = await add_org(session, "Never confirmed", confirmed=None, created=now - timedelta(days=120))
    hidden = await add_org(session, "Hidden", confirmed=None, created=now - timedelta(days=120))
    hidden.is_active = False
    await session.flush()
    assert [o.id for o in await due_for_confirmation(session, now)] == [stale.id, old.id]
    assert fresh.id and new.id

    await record_ask(session, stale, now)
    assert stale.confirm_asks == 1 and stale.last_asked_at == now
    assert stale not in await due_for_confirmation(session, now + timedelta(days=6))
    assert stale in await due_for_confirmation(session, now + timedelta(days=7))


async def test_a_confirmation_resets_the_count_and_is_audited(session) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    org = await add_org(session, "Stale", confirmed=now - timedelta(days=100), created=now - timedelta(days=400))
    member = await add_member(session, 5001)
    await record_ask(session, org, now)
    await record_ask(session, org, now + timedelta(days=7))
    await confirm(session, org, member, now + timedelta(days=8))
    assert (org.confirm_asks, org.last_confirmed_at) == (0, now + timedelta(days=8))
    assert await due_for_confirmation(session, now + timedelta(days=60)) == []
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.confirmed"))
    assert entry is not None and entry.actor_id == member.id and entry.details["organisation_id"] == org.id


async def test_only_a_week_after_the_third_ask_is_an_entry_hidden(session) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    org = await add_org(session, "Stale", confirmed=None, created=now - timedelta(days=400))
    for week in range(3):
        await record_ask(session, org, now + timedelta(days=7 * week))
    third = now + timedelta(days=14)
    assert await due_for_confirmation(session, third + timedelta(days=7)) == [], "never a fourth ask"
    assert await hide_stale(session, third + timedelta(days=6)) == []
    assert await hide_stale(session, third + timedelta(days=7)) == [org]
    assert org.is_active is False
    entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "organisation.hidden_stale"))
    assert entry is not None and entry.details["organisation_id"] == org.id


# ---------------------------------------------------------------- end to end, through the sandbox


async def test_a_representative_is_asked_once_and_confirms(running_bot, client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rep = SandboxUser(5101, "Aizada", language_code="ky")
    await client.register(rep)
    org = await add_org(session, NAME, confirmed=now - timedelta(days=91), created=now - timedelta(days=400))
    await appoint(session, await add_member(session, rep.id, "ky"), org)
    await session.commit()

    await run_job(bot_settings, session_factory, now)
    await run_job(bot_settings, session_factory, now + timedelta(hours=2))  # a second run the same day asks nobody
    asks = messages(await client.transcript(rep.id))
    assert [m["plain"] for m in asks] == [shown(ASK, "ky", name=NAME)], "the name is shown literally, never as markup"
    stored = await reload(session_factory, Organisation, org.id)
    assert stored.confirm_asks == 1

    replies = await client.press(rep, tr("✅ Still correct", "ky"))
    edited = messages(replies)
    assert [m["plain"] for m in edited] == [shown(THANKS, "ky", name=NAME)]
    assert edited[0]["reply_markup"] is None or not edited[0]["reply_markup"].get("inline_keyboard")
    stored = await reload(session_factory, Organisation, org.id)
    assert stored.confirm_asks == 0 and stored.last_confirmed_at > now
    assert stored.is_active


async def test_a_former_representative_cannot_confirm(running_bot, client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rep, former = SandboxUser(5201, "Nurlan"), SandboxUser(5202, "Timur", language_code="kk")
    for user in (rep, former):
        await client.register(user)
    org = await add_org(session, NAME, confirmed=now - timedelta(days=120), created=now - timedelta(days=400))
    await appoint(session, await add_member(session, rep.id), org)
    former_member = await add_member(session, former.id, "kk")
    await appoint(session, former_member, org)
    await session.commit()
    await run_job(bot_settings, session_factory, now)
    assert messages(await client.transcript(former.id)), "both were representatives when asked"

    # The role is revoked after the request went out: the button still works, the answer must not.
    await session.execute(delete(Role).where(Role.member_id == former_member.id))
    await session.commit()
    replies = await client.press(former, tr("✅ Still correct", "kk"))
    alerts = [a for a in replies if a.get("type") == "callback_answer"]
    assert [(a["text"], a["show_alert"]) for a in alerts] == [(tr(REFUSED, "kk"), True)]
    assert not [m for m in messages(replies) if m.get("edited")], "the request stays as it was"
    stored = await reload(session_factory, Organisation, org.id)
    assert (stored.confirm_asks, stored.last_confirmed_at) == (1, now - timedelta(days=120))


async def test_needs_changes_points_to_the_secretariat_and_confirms_nothing(running_bot, client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rep = SandboxUser(5301, "Leyla", language_code="az")
    await client.register(rep)
    org = await add_org(session, NAME, confirmed=now - timedelta(days=95), created=now - timedelta(days=400))
    await appoint(session, await add_member(session, rep.id, "az"), org)
    await session.commit()
    await run_job(bot_settings, session_factory, now)
    replies = await client.press(rep, tr("✏️ Needs changes", "az"))
    assert [m["plain"] for m in messages(replies)] == [shown(NEEDS_CHANGES, "az", name=NAME)]
    stored = await reload(session_factory, Organisation, org.id)
    assert (stored.confirm_asks, stored.last_confirmed_at) == (1, now - timedelta(days=95))


@pytest.mark.slow
async def test_three_unanswered_weeks_hide_the_entry_and_tell_the_secretariat(client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    rep = SandboxUser(5401, "Oguz")
    await client.register(rep)
    await client.register(SandboxUser(SECRETARIAT, "Secretariat"))
    org = await add_org(session, NAME, confirmed=now - timedelta(days=91), created=now - timedelta(days=400))
    await appoint(session, await add_member(session, rep.id), org)
    await session.commit()

    for week in range(3):
        await run_job(bot_settings, session_factory, now + timedelta(days=7 * week, minutes=week))
    assert len(messages(await client.transcript(rep.id))) == 3
    assert messages(await client.transcript(SECRETARIAT)) == []
    await run_job(bot_settings, session_factory, now + timedelta(days=20))
    assert (await reload(session_factory, Organisation, org.id)).is_active, "a full week after the third ask"

    await run_job(bot_settings, session_factory, now + timedelta(days=21))
    assert len(messages(await client.transcript(rep.id))) == 3, "no fourth ask"
    stored = await reload(session_factory, Organisation, org.id)
    assert stored.is_active is False and stored.confirm_asks == 3
    notices = messages(await client.transcript(SECRETARIAT))
    assert [m["plain"] for m in notices] == [shown(HIDDEN, name=NAME)]
    await run_job(bot_settings, session_factory, now + timedelta(days=28))
    assert len(messages(await client.transcript(SECRETARIAT))) == 1, "told once"


async def test_an_organisation_without_representatives_is_hidden_and_only_the_secretariat_hears(client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    bystander = SandboxUser(5501, "Bystander")
    await client.register(bystander)
    await add_member(session, bystander.id)
    await client.register(SandboxUser(SECRETARIAT, "Secretariat"))
    org = await add_org(session, NAME, confirmed=None, created=now - timedelta(days=200))
    await session.commit()

    for week in range(4):
        await run_job(bot_settings, session_factory, now + timedelta(days=7 * week))
    stored = await reload(session_factory, Organisation, org.id)
    assert stored.is_active is False
    assert [m["plain"] for m in messages(await client.transcript(SECRETARIAT))] == [shown(HIDDEN_NO_REPS, name=NAME)]
    assert set((await client.stats())["per_chat"]) == {str(SECRETARIAT)}, "nobody else was written to"


async def test_a_blocked_representative_is_marked_and_the_round_goes_on(client, session, session_factory, bot_settings) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    blocked, other = SandboxUser(5601, "Blocked"), SandboxUser(5602, "Other")
    for user in (blocked, other):
        await client.register(user)
    await client.set_failure(blocked.id, "blocked")
    first = await add_org(session, "First", confirmed=None, created=now - timedelta(days=200))
    second = await add_org(session, "Second", confirmed=None, created=now - timedelta(days=200))
    await appoint(session, await add_member(session, blocked.id), first)
    await appoint(session, await add_member(session, other.id), second)
    await session.commit()

    await run_job(bot_settings, session_factory, now)
    async with session_factory() as fresh:
        member = await fresh.scalar(select(Member).where(Member.telegram_id == blocked.id))
    assert member.is_active is False
    assert len(messages(await client.transcript(other.id))) == 1
    assert (await reload(session_factory, Organisation, first.id)).confirm_asks == 1
    assert (await reload(session_factory, Organisation, second.id)).confirm_asks == 1
