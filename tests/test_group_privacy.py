"""In a group the bot shows nothing about anyone: every command and button, found in the dispatcher itself."""

from __future__ import annotations

import pytest

import re
from typing import Any

from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from sqlalchemy import func, select

from bot.chat_scope import GROUP_CALLBACK_PREFIXES, GROUP_COMMANDS
from bot.i18n import create_i18n
from bot.labels import country_label
from sandbox.client import SandboxChat, SandboxUser
from db.models import Member, Organisation, Role, RoleName
from db.types import utcnow

I18N = create_i18n()
SECRETARIAT = 900
BOT_NAME = "kardes_sandbox_bot"
GROUP = SandboxChat(-1002000000001, "supergroup", "Leipzig diaspora")
QUICK = 0.15
TOKEN = "FeedSecretToken_9x8y7z6w5v4u3t2s"


def tr(text: str, locale: str) -> str:
    return I18N.gettext(text, locale=locale)


def texts(actions: list[dict[str, Any]]) -> list[str]:
    return [a.get("plain") or a.get("text") or "" for a in actions if a.get("action") in ("send", "edit", "callback_answer")]


def documents(actions: list[dict[str, Any]]) -> list[str]:
    return [(a.get("document") or {}).get("file_name") or "?" for a in actions if a.get("document")]


def registered_commands(dispatcher) -> set[str]:  # type: ignore[no-untyped-def]
    """Every command some message handler answers, read from the routers' filters."""
    found: set[str] = set()
    for router in dispatcher.chain_tail:
        for handler in router.message.handlers:
            for flt in handler.filters or []:
                if isinstance(flt.callback, Command):
                    found |= {c if isinstance(c, str) else getattr(c, "command", "") for c in flt.callback.commands if not isinstance(c, re.Pattern)}
    return {c for c in found if c}


def registered_factories(dispatcher) -> dict[str, type[CallbackData]]:  # type: ignore[no-untyped-def]
    """Every callback prefix some handler answers, with its factory."""
    found: dict[str, type[CallbackData]] = {}
    for router in dispatcher.chain_tail:
        for handler in router.callback_query.handlers:
            for flt in handler.filters or []:
                if isinstance(flt.callback, CallbackQueryFilter):
                    factory = flt.callback.callback_data
                    found[factory.__prefix__] = factory
    return found


def sample_payload(factory: type[CallbackData]) -> str:
    """A well-formed payload of the factory: 1 for numbers, "o" for words, true for flags."""
    values: dict[str, Any] = {}
    for name, info in factory.model_fields.items():
        kind = info.annotation
        values[name] = True if kind is bool else 1 if kind is int else "o"
    return factory(**values).pack()


async def seed(session) -> tuple[Member, list[str]]:  # type: ignore[no-untyped-def]
    """A secretary who also represents an organisation, with every kind of personal data."""
    member = Member(telegram_id=SECRETARIAT, locale="kk", display_name="Zhibekqyz", registered_at=utcnow(), consent_version="1",
                    consent_at=utcnow(), city_name="Quedlinburg", country_code="DE", latitude=51.79, longitude=11.15,
                    timezone="Europe/Berlin", origin_country="TM", languages=["kk", "ru"], interests=["culture"],
                    quiet_start=None, quiet_end=None, ical_token=TOKEN)
    session.add(member)
    org = Organisation(name="Ala-Too", category="cultural_centre")
    session.add(org)
    await session.flush()
    session.add(Role(member_id=member.id, role=RoleName.ORG_REP.value, organisation_id=org.id))
    await session.commit()
    return member, ["Zhibekqyz", "Quedlinburg", country_label("TM", "kk"), "Europe/Berlin", TOKEN]


@pytest.fixture
def bot_settings(bot_settings, request):  # type: ignore[no-untyped-def]
    """The sweep below types about a hundred commands within seconds: above the test throttle's burst."""
    if request.node.get_closest_marker("unthrottled"):
        return bot_settings.model_copy(update={"throttle_rate": 1000.0, "throttle_burst": 1000})
    return bot_settings


@pytest.mark.unthrottled
async def test_every_command_and_button_in_a_supergroup_shows_nothing_personal(running_bot, client, session, session_factory, sandbox) -> None:  # type: ignore[no-untyped-def]
    sandbox.group_limit = None  # ~100 answers in one group within a minute: beyond Telegram's 20, not what this test checks
    member, personal = await seed(session)
    owner = SandboxUser(SECRETARIAT, "Zhibek", language_code="kk")
    stranger = SandboxUser(8002, "Guest", language_code="kk")  # not registered: whatever they see is public
    await client.create_chat(GROUP, [owner, stranger])
    await client.add_bot(GROUP, by=owner)
    dispatcher = running_bot.app.dispatcher
    commands = registered_commands(dispatcher)
    factories = registered_factories(dispatcher)
    assert {"profile", "mydata", "calendar", "grant", "start", "help", "atlas"} <= commands, commands
    assert {"prof", "erase", "rsvp", "ev", "atlas", "atlasx"} <= set(factories), factories
    redirect = tr("🔒 I answer this only in our private chat, so nothing about you is shown here.", "kk")
    assert redirect != tr("🔒 I answer this only in our private chat, so nothing about you is shown here.", "en")

    leaks: list[str] = []
    not_redirected: list[str] = []  # private features that answered in the group
    public: set[str] = set()
    for command in sorted(commands):
        for text in (f"/{command}@{BOT_NAME}", f"/{command} 1 1"):
            public |= set(texts(await client.send(stranger, text, chat=GROUP, settle=QUICK)))
            answer = await client.send(owner, text, chat=GROUP, settle=QUICK)
            said = texts(answer)
            assert said, f"{text}: no answer at all"
            leaks += [f"{text}: {name}" for name in documents(answer)]
            leaks += [f"{text}: {line[:80]}" for line in said if line not in public and any(p in line for p in personal)]
            if command not in GROUP_COMMANDS:
                buttons = (answer[-1].get("reply_markup") or {}).get("inline_keyboard") or [[{}]]
                link = (buttons[0][0].get("text"), buttons[0][0].get("url"))
                if said != [redirect] or link != (tr("Open the private chat", "kk"), f"https://t.me/{BOT_NAME}"):
                    not_redirected.append(f"{text}: {said[0][:60]}")

    on_message = (await client.send(owner, f"/help@{BOT_NAME}", chat=GROUP, settle=QUICK))[-1]["message_id"]
    for prefix, factory in sorted(factories.items()):
        data = sample_payload(factory)
        public |= set(texts(await client.forge_callback(stranger, on_message, data, chat=GROUP, settle=QUICK)))
        answer = await client.forge_callback(owner, on_message, data, chat=GROUP, settle=QUICK)
        said = texts(answer)
        assert said, f"{data}: no answer"
        leaks += [f"{data}: {name}" for name in documents(answer)]
        leaks += [f"{data}: {line[:80]}" for line in said if line not in public and any(p in line for p in personal)]
        if prefix not in GROUP_CALLBACK_PREFIXES and said != [redirect]:
            not_redirected.append(f"{data}: {said[0][:60]}")

    # The public Atlas buttons, pressed for real by the member, show the same as to anyone.
    atlas = await client.send(owner, f"/atlas@{BOT_NAME}", chat=GROUP, settle=QUICK)
    for row in atlas[-1]["reply_markup"]["inline_keyboard"]:
        for button in row:
            answer = await client.press(owner, button["text"], message_id=atlas[-1]["message_id"], chat=GROUP, settle=QUICK)
            leaks += [f"atlas {button['text']}: {line[:80]}" for line in texts(answer) if any(p in line for p in personal[:2] + personal[3:])]
            leaks += [f"atlas {button['text']}: {name}" for name in documents(answer) if "mydata" in name]
    assert leaks == [], leaks
    assert not_redirected == [], not_redirected

    # Nothing the commands change changed: still one role, the feed token kept.
    async with session_factory() as fresh:
        assert await fresh.scalar(select(func.count()).select_from(Role)) == 1
        assert (await fresh.get(Member, member.id)).ical_token == TOKEN  # type: ignore[union-attr]


async def test_the_group_answer_is_in_the_senders_language(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)  # the member's row says kk, although their Telegram is in Turkish
    owner = SandboxUser(SECRETARIAT, "Zhibek", language_code="tr")
    turk, nobody = SandboxUser(8003, "Ayşe", language_code="tr"), SandboxUser(8004, "X", language_code=None)
    await client.create_chat(GROUP, [owner, turk, nobody])
    await client.add_bot(GROUP, by=owner)
    text = "🔒 I answer this only in our private chat, so nothing about you is shown here."
    for user, locale in ((owner, "kk"), (turk, "tr"), (nobody, "en")):
        answer = await client.send(user, "/profile", chat=GROUP, settle=QUICK)
        assert texts(answer) == [tr(text, locale)], (user, texts(answer))


async def test_group_chatter_locations_and_other_bots_commands_get_no_answer(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    owner = SandboxUser(SECRETARIAT, "Zhibek", language_code="kk")
    await client.create_chat(GROUP, [owner])
    await client.add_bot(GROUP, by=owner, admin=True)  # an administrator bot sees every message
    for text in ("hello everyone", "Zhibekqyz", "/profile@another_bot", "/roll", "/ profile", "12"):
        assert await client.send(owner, text, chat=GROUP, settle=QUICK, timeout=1.5) == [], text
    assert await client.share_location(owner, 52.52, 13.40, chat=GROUP, settle=QUICK, timeout=1.5) == []
    # The private chat is unchanged: /profile there shows the member's own data.
    private = texts(await client.send(owner, "/profile"))
    assert any("Zhibekqyz" in line for line in private)


async def test_a_bot_removed_from_a_group_does_not_mark_the_member_blocked(running_bot, client, session, session_factory) -> None:  # type: ignore[no-untyped-def]
    member, _personal = await seed(session)
    owner = SandboxUser(SECRETARIAT, "Zhibek", language_code="kk")
    await client.create_chat(GROUP, [owner])
    await client.add_bot(GROUP, by=owner)
    await client.set_failure(GROUP.id, "blocked")  # "bot was kicked from the supergroup chat" on the next send
    for command in ("help", "profile"):  # a public answer, and the redirect
        await client.send(owner, f"/{command}@{BOT_NAME}", chat=GROUP, settle=QUICK, timeout=2)
        async with session_factory() as fresh:
            assert (await fresh.get(Member, member.id)).is_active is True, command  # type: ignore[union-attr]


async def test_the_command_menu_in_groups_offers_only_the_public_commands(bot_settings, client) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_bot
    from bot.commands import register_commands

    bot = create_bot(bot_settings)
    try:
        await register_commands(bot, I18N, "en")
    finally:
        await bot.session.close()
    member = SandboxUser(8005, "Dana", language_code="ky")
    await client.create_chat(GROUP, [member])
    in_group = await client.commands(member, chat=GROUP)
    # /post_here also answers in groups (a representative picks a forum topic) but is not offered to everyone.
    assert {c["command"] for c in in_group} == {"help", "atlas"} and {"help", "atlas"} <= GROUP_COMMANDS
    assert next(c for c in in_group if c["command"] == "help")["description"] == tr("What this bot can do", "ky")
    assert {"profile", "mydata", "delete"} <= {c["command"] for c in await client.commands(member)}


async def test_a_flood_of_group_talk_is_not_answered_not_even_with_the_throttle_warning(running_bot, client, sandbox, session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    owner = SandboxUser(SECRETARIAT, "Zhibek", language_code="kk")
    await client.create_chat(GROUP, [owner])
    await client.add_bot(GROUP, by=owner, admin=True)
    for number in range(120):  # more than the test throttle's burst of 50, all at once
        sandbox.user_text(owner.id, f"message {number}", chat_id=GROUP.id)
    answered = await client.send(owner, f"/help@{BOT_NAME}", chat=GROUP, settle=QUICK, timeout=20)
    assert len(texts(answered)) == 1 and "/help" in texts(answered)[0], "only the command is answered"
    said = [e["plain"] for e in await client.transcript(GROUP.id) if e.get("type") == "message"]
    assert said == texts(answered), said
