"""/nearby and /search through the sandbox: order, radius, pages, cards, search."""

from __future__ import annotations

import re

import pytest

from bot.i18n import create_i18n, format_distance
from sandbox.client import SandboxUser
from db.models import Organisation

I18N = create_i18n()
BERLIN = (52.52, 13.40)


def tr(text: str, locale: str = "en") -> str:
    return I18N.gettext(text, locale=locale)


def names(entry: dict) -> list[str]:  # type: ignore[type-arg]
    """Organisation names in a list message, in order."""
    return re.findall(r"^\d+\. \S+ (.+?)(?: — .*)?$", entry["plain"], flags=re.M)


def shown(actions: list[dict]) -> dict:  # type: ignore[type-arg]
    """The last message the bot sent or edited among these actions."""
    return [a for a in actions if a["type"] == "message"][-1]


def org(name: str, lat: float, lon: float, city: str, **extra: object) -> Organisation:
    return Organisation(name=name, category=extra.pop("category", "association"), latitude=lat, longitude=lon, city=city,
                        country_code=extra.pop("country_code", "DE"), **extra)


@pytest.fixture
async def directory(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([
        org("Berlin Türk Kültür Merkezi", 52.50, 13.42, "Berlin", category="cultural_centre"),
        org("Kreuzberg Kazakh Society", 52.49, 13.39, "Berlin"),
        org("Spandau Uzbek Circle", 52.535, 13.20, "Berlin"),
        org("Köln Azerbaycan Evi", 50.94, 6.96, "Köln"),
        org("Kölner Kirgisischer Verein", 50.93, 6.95, "Köln"),
        org("Qazaq <b>&</b> Friends", 52.52, 13.41, "Berlin", description="Tea & talks <every> Friday"),
        org("Алматы диаспора орталығы", 43.24, 76.89, "Алматы", country_code="KZ"),
    ])
    await session.commit()


async def test_a_member_in_berlin_sees_berlin_before_cologne_and_the_radius_shrinks_the_list(  # type: ignore[no-untyped-def]
    running_bot, client, directory
) -> None:
    user = SandboxUser(5001, "Leyla", language_code="en")
    shared = await client.share_location(user, *BERLIN)
    around = names(shown(shared))
    assert len(around) == 4 and not any(name.startswith("Köln") for name in around), "25 km: Berlin only"
    wide = await client.press(user, format_distance(500, "en"))
    listed = names(shown(wide))
    assert [n.startswith("Köln") for n in listed] == [False, False, False, False, True], listed
    narrow = await client.press(user, format_distance(5, "en"))
    assert 0 < len(names(shown(narrow))) < 4


async def test_pagination_walks_every_page_without_repeats_or_gaps(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([org(f"Verein {i:02d}", 52.52 + i * 0.003, 13.40, "Berlin") for i in range(12)])
    await session.commit()
    user = SandboxUser(5002, "Bolat", language_code="kk")
    page = shown(await client.share_location(user, *BERLIN))
    seen = names(page)
    for _ in range(5):
        if not any(text == "▶" for row in client.buttons(page) for text, _ in row):
            break
        page = shown(await client.press(user, "▶", message_id=page["message_id"]))
        seen += names(page)
    assert sorted(seen) == [f"Verein {i:02d}" for i in range(12)]
    assert seen == sorted(seen, key=lambda n: int(n.split()[1])), "nearest first across pages"


async def test_a_card_shows_html_in_a_name_literally_and_offers_the_map(running_bot, client, directory) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(5003, "Emre", language_code="tr")
    listing = shown(await client.share_location(user, *BERLIN))
    number = next(line.split(".")[0] for line in listing["plain"].splitlines() if "Qazaq" in line)
    card = shown(await client.press(user, number))
    assert card["plain"].splitlines()[0] == "🏛 Qazaq <b>&</b> Friends"
    assert "Tea & talks <every> Friday" in card["plain"]
    venue = shown(await client.press(user, tr("📍 Show on map", "tr")))
    assert venue["kind"] == "venue" and venue["venue"]["title"] == "Qazaq <b>&</b> Friends"


async def test_the_open_sea_finds_nothing_and_offers_a_wider_radius(running_bot, client, directory) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(5004, "Ruslan", language_code="ru")
    replies = await client.share_location(user, 54.0, -30.0)
    assert shown(replies)["plain"].startswith(tr("Nothing found within {distance} of {place}.", "ru").split("{")[0])
    wider = tr("Widen to {distance}", "ru").format(distance=format_distance(100, "ru"))
    assert any(text == wider for row in client.buttons(shown(replies)) for text, _ in row)


@pytest.mark.parametrize(("query", "expected"), [("turk kultur", "Berlin Türk Kültür Merkezi"), ("almaty", "Алматы диаспора орталығы")])
async def test_search_folds_turkic_letters_and_transliterates(running_bot, client, directory, query, expected) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(5005, "Nilufar", language_code="uz")
    replies = await client.send(user, f"/search {query}")
    assert expected in names(shown(replies))


async def test_empty_search_gets_a_hint(running_bot, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(5006, "Aziza", language_code="uz")
    replies = await client.send(user, "/search   ")
    assert shown(replies)["plain"] == tr("Send /search and what you are looking for, for example: /search Türk Kültür Merkezi, or /search Almaty.", "uz")
