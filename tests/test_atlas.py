"""The Diaspora Atlas: differentially private releases, stored snapshots, a budget that holds."""

from __future__ import annotations

import csv
import json
import math
import re
import socket
import warnings
from collections import Counter
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from sqlalchemy import func, select

from bot import charts
from bot.config import LOCALES, ConfigError, load_settings
from bot.i18n import create_i18n, format_number
from bot.labels import country_label
from sandbox.client import SandboxUser
from bot.services import atlas as service
from bot.services.atlas import Domains, MemberRow
from db.models import AtlasLedger, AtlasRelease, Member
from tests import conftest

I18N = create_i18n()
NOW = datetime(2030, 1, 15, 12, 0, tzinfo=timezone.utc)
PNG = b"\x89PNG\r\n\x1a\n"
SMALL = Domains(
    countries=("AZ", "DE", "KG", "KZ", "LV", "NL", "RU", "TM", "TR", "US", "UZ"),
    cities=(("DE", "Berlin"), ("DE", "Köln"), ("KZ", "Almaty"), ("LV", "Riga"), ("TR", "Istanbul"), ("RU", "Kazan")),
    languages=("tr", "az", "kk", "ky", "uz", "tk", "ru", "en", "de"),
    interests=("culture", "education", "business", "youth", "sports"),
    months=service.months_up_to(NOW),
)


def tr(text: str, locale: str = "en") -> str:
    return I18N.gettext(text, locale=locale)


def discrete_laplace_variance(scale: float) -> float:
    alpha = math.exp(-1 / scale)
    return 2 * alpha / (1 - alpha) ** 2


# --- the mechanism -----------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2.0, 6.0])
def test_the_noise_has_the_stated_scale_and_margin(scale: float) -> None:
    # OpenDP draws from the operating system's CSPRNG and takes no seed (a seeded generator would
    # let anyone who learns the seed subtract the noise), so instead of a fixed seed the test
    # takes enough draws that its tolerance is over six standard errors: it fails for no noise,
    # half or double the scale, and passes by chance with probability far below one in a million.
    draws = 40_000
    categories = [f"k{i}" for i in range(draws)]
    noisy, epsilon = service.laplace_counts(["k0"] * 30, categories, scale, 1)
    noise = [value - (30 if i == 0 else 0) for i, value in enumerate(noisy)]
    assert epsilon == pytest.approx(1 / scale)
    mean = sum(noise) / draws
    variance = sum((z - mean) ** 2 for z in noise) / (draws - 1)
    expected = discrete_laplace_variance(scale)
    assert abs(mean) < 6 * math.sqrt(expected / draws)
    # The sample variance of Laplace noise has relative standard error sqrt(5 / n) (kurtosis 6).
    assert abs(variance / expected - 1) < 6 * math.sqrt(5 / draws), (variance, expected)
    for wrong in (scale / 2, scale * 2):
        assert abs(variance / discrete_laplace_variance(wrong) - 1) > 0.5
    assert all(isinstance(z, int) for z in noise[:100])
    margin = service.margin95(scale)
    outside = sum(1 for z in noise if abs(z) > margin) / draws
    assert 0.03 < outside <= 0.05 + 6 * math.sqrt(0.05 * 0.95 / draws), (margin, outside)


@pytest.mark.slow
def test_two_populations_one_member_apart_give_releases_within_e_to_the_epsilon() -> None:
    base = [MemberRow("DE", "Berlin", "TR", ("tr",), (), "2029-12")] * 10 + [MemberRow("KZ", None, "KZ", ("kk",), (), "2030-01")] * 8
    neighbour = base + [MemberRow("DE", "Köln", "KZ", ("kk", "de", "ru"), ("culture",), "2030-01")]
    epsilon = 5.0  # the country table gets 3/15 of it: epsilon 1, noise scale 1
    table_eps = service.table_epsilon(epsilon, service.TABLES[0])
    runs = 2000  # the outputs compared are each seen at least 150 times in both (about 3.5 standard errors inside the 1.5 margin)
    outcomes = []
    for population in (base, neighbour):
        seen: Counter[object] = Counter()  # events of the release: Germany's published count, and a joint one
        for _ in range(runs):
            public, _b, spent = service.compute_release(population, epsilon, min_cell=5, now=NOW, domains=SMALL,
                                                         tables=("members_by_country",))
            listed = {e["country"]: e["members"] for e in public["members_by_country"]["entries"]}
            seen[("DE", listed.get("DE"))] += 1
            seen[("DE and KZ at least", listed.get("DE", 0) >= 11 and listed.get("KZ", 0) >= 8)] += 1
        outcomes.append(seen)
        assert spent == {"members_by_country": pytest.approx(table_eps)}
    common = [o for o in outcomes[0] if outcomes[0][o] >= 150 and outcomes[1][o] >= 150]
    assert len(common) >= 4, "the outputs overlap: there is noise"
    bound = math.exp(table_eps)
    for output in common:
        ratio = outcomes[0][output] / outcomes[1][output]
        # Sampling error of a ratio of counts >= 150 stays well inside a factor 1.5.
        assert 1 / (bound * 1.5) < ratio < bound * 1.5, (output, ratio)
    # And the mechanism is not so noisy that the populations are indistinguishable.
    assert any(abs(math.log(outcomes[0][o] / outcomes[1][o])) > 0.3 for o in common)


def test_each_member_counts_a_bounded_number_of_times() -> None:
    member = MemberRow("DE", "Berlin", "TR", ("tr", "de", "en", "ru"), ("culture", "youth", "sports"), "2030-01")
    records = service.contributions([member])
    for spec in service.TABLES:
        assert len(records[spec.name]) <= spec.sensitivity, spec.name
    assert records["members_by_language"] == [("tr",), ("de",)]


def test_leaving_origin_unanswered_removes_the_member_from_the_origin_tables_only() -> None:
    said = MemberRow("DE", "Berlin", "TR", ("tr",), ("culture",), "2030-01")
    silent = MemberRow("DE", "Berlin", None, (), ("culture",), "2030-01")
    with_origin, without = service.contributions([said]), service.contributions([silent])
    for name in ("members_by_origin", "country_origin", "city_origin"):
        assert with_origin[name] and not without[name], name
    for name in ("members_by_country", "top_cities", "members_by_interest", "registrations_by_month", "country_interest"):
        assert with_origin[name] == without[name], name
    assert not without["members_by_language"]


def test_post_processing_keeps_cities_under_their_country_and_counts_non_negative() -> None:
    rows = [MemberRow("DE", "Berlin", "TR", ("tr",), (), "2029-12")] * 60 + [MemberRow("DE", "Köln", "TR", ("tr",), (), "2029-12")] * 40
    rows += [MemberRow("LV", "Riga", "KZ", ("kk",), (), "2029-11")] * 2
    for _ in range(20):
        public, breakdowns, _spent = service.compute_release(rows, 3.0, now=NOW, domains=SMALL)
        countries = {e["country"]: e["members"] for e in public["members_by_country"]["entries"]}
        cities = public["top_cities"]["entries"]
        for entry in cities:
            assert entry["country"] in countries and entry["members"] <= countries[entry["country"]]
        for country, count in countries.items():
            assert sum(e["members"] for e in cities if e["country"] == country) <= count
        for name in service.PUBLIC_TABLES:
            table = public[name]
            shown = [e["members"] for e in table["entries"] if e["members"] is not None]
            assert all(isinstance(v, int) and v >= 0 for v in shown)
            assert table["total"] == sum(shown)  # totals come from the noisy table, never the truth
            assert all(e["members"] is None and e["fewer_than"] == 5 or e["members"] >= table["fewer_than"]
                       for e in table["entries"])
        for table in breakdowns.values():
            assert all(cell[-1] >= table["fewer_than"] and cell[0] in countries for cell in table["cells"])


def test_a_breakdown_cell_lowered_to_its_countrys_count_below_the_threshold_is_not_listed() -> None:
    spec = next(t for t in service.TABLES if t.name == "country_interest")
    keys = [("LV", "culture"), ("DE", "culture")]
    threshold = service.listing_threshold(1.0, len(keys), 5)
    # Noise gave Latvia's culture cell more than the threshold, but Latvia itself is listed with
    # one member fewer than the threshold: the cell would read threshold - 1, and is left out.
    table = service._publish(spec, keys, [threshold + 3, threshold + 20], 1.0, 5,
                             countries={"LV": threshold - 1, "DE": threshold + 30})
    assert table["cells"] == [["DE", "culture", threshold + 20]]


def test_top_cities_lists_large_cities_even_when_no_city_is_small() -> None:
    rows = [MemberRow("DE", "Berlin", "TR", ("tr",), (), "2029-12")] * 400 + [MemberRow("TR", "Istanbul", "AZ", ("az",), (), "2029-12")] * 300
    # The real domains (every gazetteer city); only the two tables the listing depends on.
    public, _b, _s = service.compute_release(rows, 1.0, now=NOW, tables=("members_by_country", "top_cities"))
    cities = [(e["country"], e["city"]) for e in public["top_cities"]["entries"]]
    assert cities == [("DE", "Berlin"), ("TR", "Istanbul")]
    berlin = public["top_cities"]["entries"][0]
    assert abs(berlin["members"] - 400) <= 4 * berlin["margin95"]


# --- releases in the database ----------------------------------------------------------

def person(telegram_id: int, country: str | None, city: str | None, origin: str | None, *, languages=("tr",),  # type: ignore[no-untyped-def]
           interests=("culture",), registered: datetime | None = NOW - timedelta(days=40), active: bool = True) -> Member:
    return Member(telegram_id=telegram_id, locale="en", display_name=f"M{telegram_id}", is_active=active,
                  registered_at=registered, country_code=country, city_name=city, origin_country=origin,
                  languages=list(languages), interests=list(interests))


async def seed(session, scale: int = 1) -> None:  # type: ignore[no-untyped-def]
    people = []
    n = 0
    for country, city, origin, count in (("DE", "Berlin", "TR", 90), ("DE", "Köln", "KZ", 30), ("KZ", "Almaty", "KZ", 70),
                                         ("TR", "Istanbul", "AZ", 60), ("LV", "Riga", "KZ", 2)):
        for _ in range(count * scale):
            n += 1
            people.append(person(10_000 + n, country, city, origin, languages=("tr", "kk") if origin == "KZ" else ("tr",),
                                 registered=datetime(2029, 12, 10, tzinfo=timezone.utc)))
    people.append(person(19_998, "DE", "Berlin", "TR", registered=None))  # unfinished: not counted
    people.append(person(19_999, "DE", "Berlin", "TR", active=False))  # blocked the bot: not counted
    session.add_all(people)
    await session.commit()


@pytest.fixture
def small_domains(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(service, "default_domains", lambda now: SMALL)


async def test_the_ledger_adds_up_and_the_lifetime_budget_is_enforced(session, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    first = await service.make_release(session, epsilon=1.0, lifetime=2.5, trigger="cli", now=NOW)
    second = await service.make_release(session, epsilon=1.0, lifetime=2.5, trigger="schedule", now=NOW)
    with pytest.raises(service.BudgetSpent) as refused:
        await service.make_release(session, epsilon=1.0, lifetime=2.5, now=NOW)
    assert refused.value.budget.spent == pytest.approx(2.0) and not refused.value.budget.allows_release
    lines = await service.ledger(session)
    assert [line.release_id for line in lines] == [first.id, second.id] and [line.sequence for line in lines] == [1, 2]
    running = 0.0
    for line in lines:
        assert sum(line.epsilon_by_table.values()) == pytest.approx(line.epsilon) == pytest.approx(1.0)
        assert set(line.epsilon_by_table) == {t.name for t in service.TABLES}
        running += line.epsilon
        assert line.spent_after == pytest.approx(running)
    assert await session.scalar(select(func.count(AtlasRelease.id))) == 2
    state = await service.budget(session, 1.0, 2.5)
    assert state.spent == pytest.approx(2.0) and state.remaining == pytest.approx(0.5)
    assert (await service.public_atlas(session))["release"] == second.id  # the refused one changed nothing


async def test_repeated_requests_return_the_same_numbers_until_the_next_release(session, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    await service.make_release(session, epsilon=1.0, lifetime=10, now=NOW)
    first = await service.public_atlas(session)
    session.add(person(30_000, "DE", "Berlin", "UZ"))  # a member joins: nothing published moves
    await session.commit()
    assert all([await service.public_atlas(session) == first for _ in range(3)])
    assert await service.breakdowns(session) == await service.breakdowns(session)
    assert first["privacy"] == {"mechanism": service.MECHANISM, "epsilon": pytest.approx(1.0), "delta": 0.0, "unit": "member",
                                "max_languages": 2, "max_interests": 2}


async def test_the_exports_and_atlas_json_agree(session, session_factory, tmp_path, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session, scale=2)
    await service.make_release(session, epsilon=20.0, lifetime=100, now=NOW)
    await session.commit()  # the caller commits (the web server and the bot read from their own connections)
    data = await service.export_atlas(session, "json", tmp_path / "atlas.json")
    assert json.loads((tmp_path / "atlas.json").read_text(encoding="utf-8")) == data
    await service.export_atlas(session, "csv", tmp_path / "atlas.csv")
    with open(tmp_path / "atlas.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == service.csv_rows(data)
    countries = {r["key"]: r for r in rows if r["table"] == "members_by_country"}
    germany = next(e for e in data["members_by_country"]["entries"] if e["country"] == "DE")
    assert countries["DE"]["count"] == str(germany["members"]) and countries["DE"]["margin95"] == str(germany["margin95"])
    assert abs(germany["members"] - 240) <= 3 * germany["margin95"] + 1
    assert "LV" not in countries  # two members in Latvia: below the listing threshold
    from bot.web import public_routes, start_http

    settings = load_settings(database_url="sqlite:///unused.sqlite3")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = await start_http(public_routes(session_factory, settings), "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/atlas.json") as response:
                served = await response.json()
    finally:
        await runner.cleanup()
    assert served == data
    with pytest.raises(ValueError):
        await service.export_atlas(session, "xml", tmp_path / "atlas.xml")


async def test_a_release_of_nobody_says_no_data_yet(session, small_domains) -> None:  # type: ignore[no-untyped-def]
    assert service.is_empty(await service.public_atlas(session))
    await service.make_release(session, epsilon=200.0, lifetime=1000, now=NOW)  # so little noise that nothing shows
    data = await service.public_atlas(session)
    assert data["release"] is not None and service.is_empty(data)
    with I18N.context(), I18N.use_locale("en"):
        for draw, table, title in ((charts.world_map, "members_by_country", "Where our members live"),
                                   (charts.countries_chart, "members_by_country", "Members by country"),
                                   (charts.registrations_chart, "registrations_by_month", "Registrations per month")):
            assert draw(data[table], "en") == charts.no_data_chart(title), draw.__name__


@pytest.mark.parametrize("value", ["0", "-1", "abc", "nan"])
def test_a_bad_atlas_epsilon_stops_start_up_naming_the_variable(value: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ATLAS_EPSILON", value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert str(error.value).startswith("ATLAS_EPSILON is invalid") and "\n" not in str(error.value)


# --- charts ------------------------------------------------------------------------------

@pytest.fixture
def glyphs_must_exist():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing from.*")
        yield


@pytest.mark.parametrize("locale", LOCALES)
def test_charts_render_with_margins_in_every_locale(locale: str, glyphs_must_exist) -> None:  # type: ignore[no-untyped-def]
    rows = [MemberRow("KZ", "Almaty", "KZ", ("kk",), (), "2029-12")] * 80 + [MemberRow("DE", "Berlin", "TR", ("tr",), (), "2030-01")] * 50
    public, _b, _s = service.compute_release(rows, 10.0, now=NOW, domains=SMALL)
    with I18N.context(), I18N.use_locale(locale):
        for draw, table in ((charts.world_map, "members_by_country"), (charts.countries_chart, "members_by_country"),
                            (charts.registrations_chart, "registrations_by_month")):
            png = draw(public[table], locale)
            assert png.startswith(PNG) and 10_000 < len(png) < 2_000_000, (draw.__name__, len(png))
        assert charts.no_data_chart().startswith(PNG)


# --- through the bot -----------------------------------------------------------------------

@pytest.fixture
def bot_settings(database_url: str, sandbox):  # type: ignore[no-untyped-def]
    return conftest.test_settings(database_url, sandbox.base_url, sandbox.token, secretariat_ids="900",
                         atlas_epsilon=20.0, atlas_lifetime_epsilon=50.0)


def shown(actions: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [a for a in actions if a.get("type") == "message"]


async def next_photo(client, chat_id: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    entries = await client.wait_for(chat_id, lambda es: any(e.get("kind") == "photo" for e in es), timeout=20)
    return [e for e in entries if e.get("kind") == "photo"][-1]


def count_text(entry: dict, locale: str) -> str:  # type: ignore[type-arg]
    if entry["members"] is None:
        return tr("fewer than {n}", locale).format(n=format_number(entry["fewer_than"], locale))
    return f"{format_number(entry['members'], locale)} ± {format_number(entry['margin95'], locale)}"


async def test_the_secretariat_makes_a_release_and_the_chat_matches_the_open_data(running_bot, client, session, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    session.add(person(900, "DE", "Berlin", "TR"))
    await session.commit()
    official = SandboxUser(900, "Secretariat", language_code="en")
    message = shown(await client.send(official, "/atlas"))[-1]
    assert "No data yet" in message["plain"]
    ask = shown(await client.press(official, "🆕 New release (secretariat)", message_id=message["message_id"]))[-1]
    assert "It spends ε = 20 of the privacy budget" in ask["plain"]
    assert "Spent so far: ε = 0 of the lifetime budget 50 (0 releases)." in ask["plain"]
    await client.press(official, "✅ Make the release", message_id=ask["message_id"])
    await client.wait_for(official.id, lambda es: any("is published" in (e.get("plain") or "") for e in es), timeout=30)
    data = await service.public_atlas(session)
    assert data["release"] == (await service.latest_release(session)).id and data["privacy"]["epsilon"] == pytest.approx(20.0)
    user = SandboxUser(7101, "Aigerim", language_code="kk")
    texts = [shown(await client.send(user, "/atlas"))[-1] for _ in range(2)]
    assert texts[0]["plain"] == texts[1]["plain"], "the same release, the same numbers"
    text = texts[0]["plain"]
    section = text.split(tr("Members by country", "kk"), 1)[1].split("\n\n", 1)[0]
    for entry in data["members_by_country"]["entries"]:
        assert f"• {country_label(entry['country'], 'kk')} — {count_text(entry, 'kk')}" in section
    assert not any((d or "").startswith(("atlasx", "atlasr")) for row in client.buttons(texts[0]) for _, d in row)
    document = shown(await client.press(user, tr("📄 Open data (JSON)", "kk"), message_id=texts[0]["message_id"]))[-1]
    assert json.loads(await client.document(document)) == data
    await client.press(user, tr("📊 Countries", "kk"), message_id=texts[0]["message_id"])
    photo = await next_photo(client, user.id)
    assert photo["text"] == tr("Members by country", "kk")
    assert (await running_bot.bot.download(photo["photo"]["file_id"])).read().startswith(PNG)


async def test_a_plain_members_forged_callbacks_reach_no_breakdown_and_spend_nothing(running_bot, client, session, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    await service.make_release(session, epsilon=20.0, lifetime=50, now=NOW)
    await session.commit()  # the caller commits (the web server and the bot read from their own connections)
    user = SandboxUser(7102, "Ruslan", language_code="ru")
    message = shown(await client.send(user, "/atlas"))[-1]
    for data in ("atlasx:menu", "atlasx:country_origin", "atlasr:ask", "atlasr:confirm"):
        replies = await client.forge_callback(user, message["message_id"], data)
        assert not shown(replies), data
    assert await session.scalar(select(func.count(AtlasLedger.id))) == 1
    session.expire_all()
    # The same presses from a member who was shown the buttons and then lost the role.
    session.add(person(7103, "DE", "Berlin", "TR"))
    await session.commit()
    from db.models import Role, RoleName

    official = await session.scalar(select(Member).where(Member.telegram_id == 7103))
    role = Role(member_id=official.id, role=RoleName.SECRETARIAT.value)
    session.add(role)
    await session.commit()
    former = SandboxUser(7103, "Former", language_code="en")
    menu = shown(await client.send(former, "/atlas"))[-1]
    await session.delete(role)
    await session.commit()
    for button in ("🔎 Breakdowns (secretariat)", "🆕 New release (secretariat)"):
        replies = await client.press(former, button, message_id=menu["message_id"])
        answers = [a for a in replies if a.get("type") == "callback_answer"]
        assert answers and answers[0]["text"] == "This is for the secretariat only." and not shown(replies)
    assert await session.scalar(select(func.count(AtlasLedger.id))) == 1


async def test_the_secretariat_reads_a_breakdown_of_the_release_and_a_spent_budget_refuses(running_bot, client, session, small_domains) -> None:  # type: ignore[no-untyped-def]
    await seed(session, scale=2)
    for _ in range(2):
        await service.make_release(session, epsilon=20.0, lifetime=50, now=NOW)
        await session.commit()  # the caller commits (the web server and the bot read from their own connections)
    official = SandboxUser(900, "Secretariat", language_code="en")
    session.add(person(900, "DE", "Berlin", "TR"))
    await session.commit()
    message = shown(await client.send(official, "/atlas"))[-1]
    await client.press(official, "🔎 Breakdowns (secretariat)", message_id=message["message_id"])
    reply = shown(await client.press(official, "Country × origin"))[-1]["plain"]
    assert reply.startswith("Country × origin") and re.search(r"• Germany: Türkiye \d+", reply)
    assert "Noisy counts, each within ±" in reply
    replies = shown(await client.press(official, "🆕 New release (secretariat)", message_id=message["message_id"]))
    assert "the lifetime privacy budget is spent (ε = 40 of 50; a release needs 20)" in replies[-1]["plain"]
    assert await session.scalar(select(func.count(AtlasLedger.id))) == 2


async def test_a_newcomer_may_prefer_not_to_say_origin_and_languages_and_keeps_every_feature(running_bot, client, session) -> None:  # type: ignore[no-untyped-def]
    from bot.i18n import LANGUAGE_NAMES

    user = SandboxUser(3101, "Timur", language_code="ru")
    await client.send(user, "/start")
    last = await client.last_message(user.id)
    await client.press(user, next(t for row in client.buttons(last) for t, _ in row if t.endswith(LANGUAGE_NAMES["ru"])))
    notice = (await client.last_message(user.id))["plain"]
    assert "differential privacy" not in notice and tr("Prefer not to say", "ru") in notice  # in Russian, naming the option
    await client.press(user, tr("I accept", "ru"))
    await client.send(user, "Timur")
    suggestions = await client.send(user, "Берлин")
    await client.press(user, suggestions[-1]["reply_markup"]["inline_keyboard"][0][0]["text"])
    origin_question = (await client.last_message(user.id))["plain"]
    assert tr("Which country do you or your family come from?", "ru") in origin_question
    await client.press(user, tr("Prefer not to say", "ru"))
    await client.press(user, tr("Done ▶", "ru"))  # no language chosen: not said
    await client.press(user, tr("Culture and arts", "ru"))
    await client.press(user, tr("Done ▶", "ru"))
    summary = await client.press(user, tr("Done ▶", "ru"))
    assert any(tr("You are registered. Welcome to the community! Here is what we keep about you:", "ru") in (a.get("plain") or "")
               for a in summary)
    member = await session.scalar(select(Member).where(Member.telegram_id == 3101))
    assert (member.origin_country, member.languages, member.sensitive_consent_at) == (None, [], None)
    assert member.country_code == "DE" and member.registered_at is not None
    rows = await service.member_rows(session)
    records = service.contributions(rows)
    assert records["members_by_country"] == [("DE",)] and not records["members_by_origin"] and not records["members_by_language"]
    # Later, in /profile, they give their origin: that choice is their consent; and take it back.
    await client.send(user, "/profile")
    await client.press(user, tr("✏️ Origin", "ru"))
    await client.press(user, country_label("KZ", "ru"))
    session.expire_all()
    member = await session.scalar(select(Member).where(Member.telegram_id == 3101))
    assert member.origin_country == "KZ" and member.sensitive_consent_at is not None
    await client.send(user, "/profile")
    await client.press(user, tr("✏️ Origin", "ru"))
    await client.press(user, tr("Prefer not to say", "ru"))
    session.expire_all()
    member = await session.scalar(select(Member).where(Member.telegram_id == 3101))
    assert (member.origin_country, member.sensitive_consent_at) == (None, None)


@pytest.mark.slow
async def test_kardes_atlas_release_asks_spends_and_refuses_once_the_budget_is_spent(database_url, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from tests.harness import kardes

    await seed(session)
    budget = {"ATLAS_EPSILON": "2", "ATLAS_LIFETIME_EPSILON": "3"}
    unconfirmed = await asyncio.to_thread(kardes, ["atlas", "release"], database_url, **budget)
    assert unconfirmed.returncode == 1 and "spent so far 0 of 3" in unconfirmed.stdout and "no release made" in unconfirmed.stdout
    made = await asyncio.to_thread(kardes, ["atlas", "release", "--yes"], database_url, **budget)
    assert made.returncode == 0, made.stderr
    published = re.search(r"atlas release (\d+) published \(epsilon 2\)", made.stdout)
    assert published, made.stdout
    refused = await asyncio.to_thread(kardes, ["atlas", "release", "--yes"], database_url, **budget)
    assert refused.returncode == 1 and "lifetime privacy budget is spent" in refused.stderr
    exported = await asyncio.to_thread(kardes, ["atlas", "export", "--format", "csv", str(tmp_path / "a.csv")], database_url)
    assert exported.returncode == 0 and f"atlas release {published.group(1)} written" in exported.stdout
    data = await service.public_atlas(session)
    with open(tmp_path / "a.csv", encoding="utf-8", newline="") as file:
        assert list(csv.DictReader(file)) == service.csv_rows(data)
    bad = await asyncio.to_thread(kardes, ["atlas", "release"], database_url, ATLAS_EPSILON="-1")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "ATLAS_EPSILON is invalid" in bad.stderr


async def test_the_worker_makes_the_scheduled_release_on_atlas_schedule(database_url, session_factory, session, small_domains) -> None:  # type: ignore[no-untyped-def]
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from jobs import atlas as job
    from jobs.context import JobContext, set_context

    scheduler = AsyncIOScheduler(timezone="UTC")
    settings = load_settings(database_url=database_url, atlas_schedule="0 6 1 * *", atlas_epsilon=1.0, atlas_lifetime_epsilon=1.5)
    job.install_release_job(scheduler, settings)
    installed = scheduler.get_job(job.JOB_ID)
    assert installed is not None and installed.func_ref == "jobs.atlas:release_job"
    assert str(installed.trigger) == "cron[month='*', day='1', day_of_week='*', hour='6', minute='0']"
    await seed(session)
    set_context(JobContext(settings=settings, session_factory=session_factory))
    try:
        await job.release_job()
        await job.release_job()  # the budget allows one: the second is skipped, not an error
    finally:
        set_context(None)
    assert [line.epsilon for line in await service.ledger(session)] == [pytest.approx(1.0)]
    assert (await session.scalar(select(AtlasRelease))).trigger == "schedule"
