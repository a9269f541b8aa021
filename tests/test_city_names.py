"""City names in the reader's script, and typed names in another script ranked sensibly: the
city that bears the typed Cyrillic name beats one that only transliterates alike."""

from __future__ import annotations

import pytest

from bot.geo import city_name, get_gazetteer, search_countries
from bot.i18n import LANGUAGE_NAMES, create_i18n
from sandbox.client import SandboxUser

I18N = create_i18n()


def tr(text: str, locale: str) -> str:
    return I18N.gettext(text, locale=locale)


def test_berlin_typed_in_cyrillic_finds_berlin_and_not_north_canton() -> None:
    found = get_gazetteer().search("Берлин")
    assert (found[0].name, found[0].country_code) == ("Berlin", "DE")
    assert "North Canton" not in [city.name for city in found]
    assert get_gazetteer().search("Berlin")[0].name == "Berlin"  # Latin search unchanged
    assert get_gazetteer().search("берл")[0].name == "Berlin"  # a prefix still works
    assert get_gazetteer().search("Алматы")[0].name == "Almaty"


@pytest.mark.parametrize(("query", "expected"), [
    ("Wien", {"tr": "Viyana", "az": "Vyana", "kk": "Вена", "ky": "Вена", "uz": "Vena", "tk": "Wena", "ru": "Вена", "en": "Vienna"}),
    ("Berlin", {"tr": "Berlin", "az": "Berlin", "kk": "Берлин", "ky": "Берлин", "uz": "Berlin", "tk": "Berlin", "ru": "Берлин", "en": "Berlin"}),
    ("Karagandy", {"tr": "Karagandy", "az": "Karagandy", "kk": "Қарағанды", "ky": "Караганда", "uz": "Karagandy", "tk": "Karagandy",
                   "ru": "Караганда", "en": "Karagandy"}),
    ("Baku", {"tr": "Bakü", "az": "Bakı", "kk": "Баку", "ky": "Баку", "uz": "Boku", "tk": "Baku", "ru": "Баку", "en": "Baku"}),
])
def test_a_city_is_named_in_each_readers_language(query: str, expected: dict[str, str]) -> None:
    city = get_gazetteer().search(query)[0]
    assert {locale: city_name(city, locale) for locale in expected} == expected


def test_an_unknown_city_keeps_its_own_name() -> None:
    city = get_gazetteer().search("Wenatchee")[0]
    assert city_name(city, "ru") == "Wenatchee"
    assert search_countries("Германия", "ru")[0].code == "DE"


@pytest.mark.parametrize(("locale", "typed", "shown", "country"), [
    ("kk", "Берлин", "Берлин", "Германия"), ("ru", "берлин", "Берлин", "Германия"), ("tr", "Wien", "Viyana", "Avusturya"),
])
async def test_registration_offers_and_confirms_the_city_in_the_readers_script(running_bot, client, locale, typed, shown, country) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(8601, "Asel", language_code="en")
    await client.send(user, "/start")
    await client.press(user, LANGUAGE_NAMES[locale])
    await client.press(user, tr("I accept", locale))
    await client.send(user, "Asel")
    suggestions = (await client.send(user, typed))[-1]
    buttons = [text for row in client.buttons(suggestions) for text, _ in row]
    assert buttons[0].startswith(f"{shown}, ") and buttons[0].endswith(country)
    assert not any("North Canton" in text for text in buttons)
    chosen = await client.press(user, buttons[0])
    confirmations = [e.get("plain") for e in chosen if e.get("type") == "message"]
    assert tr("Got it: {city}, {country}.", locale).format(city=shown, country=country) in confirmations
