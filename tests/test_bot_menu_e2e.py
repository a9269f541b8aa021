"""The command menu follows the member's chosen language (per chat, set on registration and on
/language), and the bot's name and descriptions are set per language at start-up, tolerating
a server that refuses (Telegram allows few changes a day)."""

from __future__ import annotations

import pytest
from aiogram.methods import GetMyDescription, GetMyName, GetMyShortDescription

from bot.commands import COMMANDS, DESCRIPTION, NAME, SHORT_DESCRIPTION, register_commands
from bot.config import LOCALES
from bot.i18n import LANGUAGE_NAMES, create_i18n
from sandbox.client import SandboxUser
from db.models import Member
from db.types import utcnow
from tests.test_e2e_registration import register

I18N = create_i18n()


def menu_in(locale: str) -> list[dict[str, str]]:
    return [{"command": name, "description": I18N.gettext(text, locale=locale)} for name, text in COMMANDS]


@pytest.mark.parametrize("locale", ["ru", "uz", "tr"])
async def test_the_menu_switches_to_the_language_chosen_with_slash_language(running_bot, client, session, locale) -> None:  # type: ignore[no-untyped-def]
    await register_commands(running_bot.bot, I18N, "en")
    user = SandboxUser(8101, "Lola", language_code="en")  # an English phone
    await client.register(user)
    session.add(Member(telegram_id=user.id, locale="en", display_name="Lola", registered_at=utcnow(), quiet_start=None, quiet_end=None))
    await session.commit()
    assert await client.commands(user) == menu_in("en")

    await client.send(user, "/language")
    await client.press(user, LANGUAGE_NAMES[locale])
    menu = await client.commands(user)
    assert menu == menu_in(locale)
    names = [item["command"] for item in menu]
    assert "events" in names and "reminders" in names
    assert all(item["description"] != english["description"] for item, english in zip(menu, menu_in("en")))


@pytest.mark.parametrize("locale", ["kk", "az"])
async def test_a_newcomer_gets_the_menu_in_the_language_they_registered_in(running_bot, client, locale) -> None:  # type: ignore[no-untyped-def]
    await register_commands(running_bot.bot, I18N, "en")
    user = SandboxUser(8201, "Aruzhan", language_code="ru")  # a Russian phone, a Kazakh or Azerbaijani member
    assert await client.commands(user) == menu_in("ru")
    await register(client, user, locale, name="Aruzhan", city="Berlin", origin="KZ", language="kk", interest="culture")
    assert await client.commands(user) == menu_in(locale)


async def test_name_and_descriptions_are_set_per_language_once(running_bot, sandbox) -> None:  # type: ignore[no-untyped-def]
    bot = running_bot.bot
    await register_commands(bot, I18N, "en")
    for locale in LOCALES:
        assert (await bot(GetMyName(language_code=locale))).name == I18N.gettext(NAME, locale=locale)
        assert (await bot(GetMyDescription(language_code=locale))).description == I18N.gettext(DESCRIPTION, locale=locale)
        assert (await bot(GetMyShortDescription(language_code=locale))).short_description == I18N.gettext(SHORT_DESCRIPTION, locale=locale)
    assert (await bot(GetMyName(language_code="kk"))).name == "Kardeş — түркі диаспорасы"
    changes = dict(sandbox._profile_changes)
    assert changes["name"] == len(LOCALES)  # the default, and every language but English (the default is English)
    await register_commands(bot, I18N, "en")  # a restart: nothing changed, so nothing is set again
    assert dict(sandbox._profile_changes) == changes


async def test_a_server_that_refuses_profile_changes_does_not_stop_start_up(running_bot, sandbox, client) -> None:  # type: ignore[no-untyped-def]
    bot = running_bot.bot
    for n in range(20):  # Telegram's daily allowance, spent
        await bot.set_my_name(name=f"Kardeş {n}")
    await register_commands(bot, I18N, "en")  # logs the 429 and goes on
    assert (await bot.get_my_name(language_code="ru")).name != I18N.gettext(NAME, locale="ru")
    assert (await bot(GetMyDescription(language_code="ru"))).description == I18N.gettext(DESCRIPTION, locale="ru")
    user = SandboxUser(8301, "Ilya", language_code="ru")
    assert await client.commands(user) == menu_in("ru")
