"""The Diaspora Atlas: suppression that holds, charts that render, open data that matches /atlas."""

from __future__ import annotations

import csv
import json
import random
import re
import warnings
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from bot import charts
from bot.config import LOCALES
from bot.i18n import create_i18n, format_number
from bot.labels import country_label
from bot.sandbox.client import SandboxUser
from bot.services import atlas as service
from bot.services.atlas import MemberRow
from db.models import Event, Member, Organisation, Role, RoleName

I18N = create_i18n()
NOW = datetime(2030, 1, 15, 12, 0, tzinfo=timezone.utc)
PNG = b"\x89PNG\r\n\x1a\n"

COUNTRIES = ("DE", "TR", "KZ", "RU", "US", "NL", "LV", "UZ", "KG")
CITIES = {"DE": ("Berlin", "Köln", "München"), "TR": ("İstanbul", "Ankara"), "KZ": ("Алматы", "Астана"),
          "RU": ("Москва", "Казань"), "US": ("New York",), "NL": ("Amsterdam", "Rotterdam"), "LV": ("Rīga",),
          "UZ": ("Toshkent",), "KG": ("Бишкек", "Ош")}
ORIGINS = ("TR", "AZ", "KZ", "KG", "UZ", "TM", "RU")
LANGUAGES = ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en")
INTERESTS = ("culture", "education", "business", "youth", "sports")


def tr(text: str, locale: str = "en") -> str:
    return I18N.gettext(text, locale=locale)


# --- random populations ------------------------------------------------------------------

def population(rng: random.Random) -> list[MemberRow]:
    """A skewed random diaspora: a few big countries, long tails of small cells."""
    size = rng.choice((0, 1, 3, 8, 20, 40, 80, 150))
    countries = rng.sample(COUNTRIES, rng.randint(1, len(COUNTRIES)))
    weights = [rng.random() ** 3 + 0.01 for _ in countries]
    months = [f"2029-{m:02d}" for m in range(1, 13)][: rng.randint(1, 12)]
    rows = []
    for _ in range(size):
        country = rng.choices(countries, weights)[0]
        city = rng.choice(CITIES[country] + (None,))
        rows.append(MemberRow(
            country=country,
            city=city,
            origin=rng.choice(ORIGINS[: rng.randint(1, len(ORIGINS))]),
            languages=tuple(rng.sample(LANGUAGES, rng.randint(1, 3))),
            interests=tuple(rng.sample(INTERESTS, rng.randint(0, 2))),
            month=rng.choice(months),
        ))
    return rows


# --- an attacker written apart from the service ------------------------------------------

def solvable_by_subtraction(values: dict, hidden: set, lines: list[list]) -> set:  # type: ignore[type-arg]
    """Hidden cells found by subtracting shown cells from known line totals, over and over.

    A line with one unknown left gives it away; a line whose unknowns add up to as many cells
    as it has (each is at least 1) gives them all away as 1.
    """
    known = {k: values[k] for k in values if k not in hidden}
    found: set = set()  # type: ignore[type-arg]
    progress = True
    while progress:
        progress = False
        for line in lines:
            total = sum(values[k] for k in line)
            unknown = [k for k in line if k not in known]
            rest = total - sum(known[k] for k in line if k in known)
            if len(unknown) == 1 or (unknown and rest == len(unknown)):
                for k in unknown:
                    known[k] = rest if len(unknown) == 1 else 1
                    found.add(k)
                progress = True
    return found


def possible_values_linked(tables: list[dict], shown: list[dict], small: list[set], protecting: list[set],
                           cell: tuple[int, str], m: int, floor: int = 0) -> set[int]:  # type: ignore[type-arg]
    """Brute force: the values a small hidden cell can take if every linked table has one total.

    ``floor``: the total is at least this (a shown language or interest count).
    """
    index, key = cell
    ceiling = sum(sum(t.values()) for t in tables) + 1
    values = set()
    for total in range(floor, ceiling + 1):
        def feasible(i: int, fixed: int = 0, fixed_count: int = 0) -> bool:
            rest = total - sum(shown[i].values()) - fixed
            k_small = len(small[i]) - fixed_count
            k_prot = len(protecting[i])
            low = k_small + m * k_prot
            high = k_small * (m - 1) if not k_prot else float("inf")
            return low <= rest <= high
        if not all(feasible(i) for i in range(len(tables))):
            continue
        for x in range(1, m):
            if feasible(index, x, 1):
                values.add(x)
    return values


def check_atlas(rows: list[MemberRow], m: int) -> None:
    """Every exposed dimension and pair keeps every small cell unrecoverable."""
    atlas = service.compute_atlas(rows, m, detailed=True, generated_at=NOW)
    truth = {
        "countries": Counter(r.country for r in rows if r.country),
        "origins": Counter(r.origin for r in rows if r.origin),
        "months": Counter(r.month for r in rows if r.month),
        "languages": Counter(c for r in rows for c in set(r.languages)),
        "interests": Counter(c for r in rows for c in set(r.interests)),
    }
    for name, counts in truth.items():
        table: service.Table = getattr(atlas, name)
        if table.withheld:
            assert not table.cells
            continue
        assert {c.key for c in table.cells} == {k for k, v in counts.items() if v > 0}, name
        for cell in table.cells:
            if cell.count is not None:
                assert cell.count == counts[cell.key] >= m, (name, cell)
            elif cell.small:
                assert 1 <= counts[cell.key] < m, (name, cell)  # "fewer than m" is true
            else:
                assert counts[cell.key] >= m, (name, cell)  # "hidden" protects a small one
        assert table.shown_total == sum(c.count for c in table.cells if c.count is not None)

    # Linked one-dimensional tables: one unknown total, brute-forced.
    names = [n for n in ("countries", "origins", "months") if not getattr(atlas, n).withheld]
    linked = [getattr(atlas, n) for n in names]
    tables = [dict(truth[n]) for n in names]
    shown = [{c.key: c.count for c in t.cells if c.count is not None} for t in linked]
    small = [{c.key for c in t.cells if c.hidden and c.small} for t in linked]
    protecting = [{c.key for c in t.cells if c.hidden and not c.small} for t in linked]
    floor = max((c.count for t in (atlas.languages, atlas.interests) for c in t.cells if c.count is not None), default=0)
    for i, keys in enumerate(small):
        for key in keys:
            options = possible_values_linked(tables, shown, small, protecting, (i, key), m, floor)
            assert len(options) >= 2, (names[i], key, options)

    # Top cities: each country's published count is a known total over its cities.
    by_city = Counter((r.country, r.city or "") for r in rows if r.country)
    listed = {(c.parent, c.key): c.count for c in atlas.cities.cells}
    for (country, city), count in listed.items():
        assert count == by_city[(country, city)] >= m
    for country, total in truth["countries"].items():
        if total < m:
            continue
        unlisted = [k for k in by_city if k[0] == country and k not in listed]
        rest = total - sum(v for k, v in listed.items() if k[0] == country)
        # One unlisted place gives its count away; so does a remainder of one member per place.
        leaked = (len(unlisted) == 1 and by_city[unlisted[0]] < m) or (unlisted and rest == len(unlisted))
        assert not leaked, (country, unlisted, rest)

    # Breakdowns: every known line total, subtracted from over and over.
    for name, table in atlas.breakdowns.items():
        row_dim, col_dim = service.BREAKDOWNS[name]
        true_cells: Counter = Counter()  # type: ignore[type-arg]
        for r in rows:
            if not r.country or (row_dim == "city" and not r.city):
                continue
            row = (r.country, r.city) if row_dim == "city" else (r.country,)
            columns = (tuple(sorted(set(getattr(r, col_dim)))) or ("",)) if col_dim in ("languages", "interests") \
                else (getattr(r, col_dim) or "",)
            for column in columns:
                true_cells[(row, column)] += 1
        if table.withheld:
            assert not any(v is not None for v in table.cells.values())
            continue
        assert set(table.cells) == set(true_cells), name
        hidden = {k for k, v in table.cells.items() if v is None}
        for key, value in table.cells.items():
            assert value is None or value == true_cells[key] >= m, (name, key)
            if true_cells[key] < m:
                assert key in hidden, (name, key)
        rows_of = {k[0] for k in true_cells}
        cols_of = {k[1] for k in true_cells}
        lines = [[k for k in true_cells if k[1] == c] for c in cols_of]
        if col_dim not in ("languages", "interests"):
            lines += [[k for k in true_cells if k[0] == r] for r in rows_of]
        lines = [line for line in lines if sum(true_cells[k] for k in line) >= m]
        solved = solvable_by_subtraction(dict(true_cells), hidden, lines)
        leaked = {k for k in solved if true_cells[k] < m}
        assert not leaked, (name, leaked)


def test_suppression_holds_over_200_random_populations() -> None:
    rng = random.Random(20300115)
    for _ in range(200):
        check_atlas(population(rng), rng.choice((3, 5, 5, 5, 10)))


def test_one_small_cell_beside_a_published_total_gets_a_partner() -> None:
    """Germany 12 = Berlin 10 + Köln 2: Berlin alone would give Köln away, so neither city is listed."""
    rows = [MemberRow("DE", "Berlin", "TR", month="2029-01")] * 10 + [MemberRow("DE", "Köln", "TR", month="2029-01")] * 2
    atlas = service.compute_atlas(rows, 5)
    assert atlas.countries.get("DE").count == 12  # type: ignore[union-attr]
    assert atlas.cities.cells == ()


def test_a_fully_shown_table_cannot_reveal_a_small_country_through_the_common_total() -> None:
    rows = [MemberRow("DE", None, "TR", month="2029-01")] * 16 + [MemberRow("LV", None, "TR", month="2029-02")] * 3
    atlas = service.compute_atlas(rows, 5)
    assert atlas.countries.get("LV").small and atlas.countries.get("LV").count is None  # type: ignore[union-attr]
    # TR 19 and both months would add up to the total, 19 - 16 = 3: so they are hidden too.
    assert atlas.origins.get("TR").count is None and not atlas.origins.get("TR").small  # type: ignore[union-attr]
    assert any(cell.count is None for cell in atlas.months.cells)


# --- the database --------------------------------------------------------------------------

def member(telegram_id: int, country: str | None, city: str | None, origin: str | None, *, languages=("tr",),  # type: ignore[no-untyped-def]
           interests=("culture",), registered: datetime | None = NOW - timedelta(days=40), active: bool = True,
           locale: str = "en") -> Member:
    return Member(telegram_id=telegram_id, locale=locale, display_name=f"M{telegram_id}", is_active=active,
                  registered_at=registered, country_code=country, city_name=city, origin_country=origin,
                  languages=list(languages), interests=list(interests))


async def seed(session) -> None:  # type: ignore[no-untyped-def]
    people = []
    n = 0
    for country, city, origin, count, month in (
        ("DE", "Berlin", "TR", 9, 1), ("DE", "Köln", "KZ", 3, 2), ("DE", "Berlin", "KZ", 4, 2),
        ("KZ", "Алматы", "KZ", 7, 3), ("RU", "Казань", "UZ", 2, 3), ("TR", "İstanbul", "AZ", 6, 4),
    ):
        for _ in range(count):
            n += 1
            people.append(member(10_000 + n, country, city, origin, languages=("tr", "kk") if origin == "KZ" else ("tr",),
                                 registered=datetime(2029, month, 10, tzinfo=timezone.utc)))
    people.append(member(19_998, "DE", "Berlin", "TR", registered=None))  # unfinished: not counted
    people.append(member(19_999, "DE", "Berlin", "TR", active=False))  # blocked the bot: not counted
    session.add_all(people)
    berlin = Organisation(name="Berlin Türk Kültür Merkezi", category="cultural_centre", country_code="DE", city="Berlin",
                          latitude=52.5, longitude=13.4)
    almaty = Organisation(name="Алматы орталығы", category="association", country_code="KZ", city="Алматы",
                          latitude=43.24, longitude=76.89)
    session.add_all([berlin, almaty, Organisation(name="Closed", category="association", country_code="DE", is_active=False)])
    await session.flush()
    session.add_all([
        Event(organisation_id=berlin.id, title="Nowruz", starts_at=datetime.now(timezone.utc) + timedelta(days=20),
              timezone="Europe/Berlin", country_code="DE", status="approved"),
        Event(organisation_id=berlin.id, title="Past", starts_at=datetime.now(timezone.utc) - timedelta(days=20),
              timezone="Europe/Berlin", country_code="DE", status="approved"),
        Event(organisation_id=almaty.id, title="Pending", starts_at=datetime.now(timezone.utc) + timedelta(days=5),
              timezone="Asia/Almaty", country_code="KZ", status="pending"),
    ])
    await session.commit()


async def test_the_database_atlas_counts_registered_active_members_and_suppresses(session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    rows = await service.member_rows(session)
    assert len(rows) == 31
    atlas = await service.build_atlas(session, 5, detailed=True)
    assert atlas.countries.get("DE").count == 16  # type: ignore[union-attr]
    assert atlas.countries.get("RU").count is None and atlas.countries.get("RU").small  # type: ignore[union-attr]
    assert [(c.key, c.count) for c in atlas.organisations.cells] == [("DE", 1), ("KZ", 1)]
    assert [(c.key, c.count) for c in atlas.events.cells] == [("DE", 1)]
    check_atlas(rows, 5)


async def test_an_empty_database_gives_no_data_yet_not_an_exception(session) -> None:  # type: ignore[no-untyped-def]
    atlas = await service.build_atlas(session, 5, detailed=True)
    assert atlas.is_empty and all(b.rows == () for b in atlas.breakdowns.values())
    data = service.atlas_to_dict(atlas)
    assert data["members_by_country"] == [] and data["schema"] == "kardes-atlas/1"
    with I18N.context(), I18N.use_locale("en"):
        for draw in (charts.world_map, charts.countries_chart, charts.registrations_chart):
            assert draw(atlas.countries, "en", 5).startswith(PNG)


async def test_export_round_trips_in_json_and_csv(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    data = await service.export_atlas(session, "json", tmp_path / "atlas.json", 5, now=NOW)
    assert json.loads((tmp_path / "atlas.json").read_text(encoding="utf-8")) == data
    assert data == await service.public_atlas(session, 5, now=NOW)
    await service.export_atlas(session, "csv", tmp_path / "atlas.csv", 5, now=NOW)
    with open(tmp_path / "atlas.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    assert rows == service.csv_rows(data)
    countries = {r["key"]: r for r in rows if r["table"] == "members_by_country"}
    assert countries["DE"]["count"] == "16" and countries["RU"] == {
        "table": "members_by_country", "key": "RU", "parent": "", "count": "", "suppressed": "true", "reason": "small"}
    assert {"table": "top_cities", "key": "Алматы", "parent": "KZ", "count": "7", "suppressed": "false", "reason": ""} in rows
    with pytest.raises(ValueError):
        await service.export_atlas(session, "xml", tmp_path / "atlas.xml", 5)


# --- charts ------------------------------------------------------------------------------

@pytest.fixture
def glyphs_must_exist():  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*[Gg]lyph.*missing from.*")
        yield


@pytest.mark.parametrize("locale", LOCALES)
def test_charts_render_with_every_locales_labels(locale: str, glyphs_must_exist) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    rows = population(rng) + [MemberRow("KZ", "Алматы", "KZ", ("kk",), (), "2029-05")] * 12
    atlas = service.compute_atlas(rows, 5)
    with I18N.context(), I18N.use_locale(locale):
        for draw, table in ((charts.world_map, atlas.countries), (charts.countries_chart, atlas.countries),
                            (charts.registrations_chart, atlas.months)):
            png = draw(table, locale, 5)
            assert png.startswith(PNG) and 10_000 < len(png) < 2_000_000, (draw.__name__, len(png))
        assert charts.no_data_chart().startswith(PNG)
    assert country_label("KZ", locale)  # the names drawn came from CLDR


def test_the_world_map_comes_from_shipped_country_shapes() -> None:
    shapes = charts.world_shapes()
    assert {"DE", "KZ", "TR", "UZ", "KG", "TM", "AZ", "RU"} <= set(shapes)
    germany, kazakhstan = shapes["DE"].get_extents(), shapes["KZ"].get_extents()
    assert germany.x1 < kazakhstan.x0, "Germany lies west of Kazakhstan"


# --- through the bot -----------------------------------------------------------------------

@pytest.fixture
def atlas_router(running_bot):  # type: ignore[no-untyped-def]
    """Our router in the running dispatcher, until the app wires it itself."""
    from handlers.atlas import router

    dispatcher = running_bot.app.dispatcher
    attached = router.parent_router is not dispatcher
    if attached:
        router._parent_router = dispatcher
        dispatcher.sub_routers.insert(0, router)
    yield router
    if attached:
        dispatcher.sub_routers.remove(router)
        router._parent_router = None


def shown(actions: list[dict]) -> list[dict]:  # type: ignore[type-arg]
    return [a for a in actions if a.get("type") == "message"]


async def next_photo(client, chat_id: int) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The chart the bot sends (it answers the press first, then draws for a second)."""
    entries = await client.wait_for(chat_id, lambda es: any(e.get("kind") == "photo" for e in es), timeout=20)
    return [e for e in entries if e.get("kind") == "photo"][-1]


def plain_count(entry: dict, locale: str) -> str:  # type: ignore[type-arg]
    if entry["members"] is not None:
        return format_number(entry["members"], locale)
    if entry["reason"] == "small":
        return tr("fewer than {n}", locale).format(n=5)
    return tr("hidden", locale)


async def test_atlas_in_the_chat_matches_the_open_data(running_bot, atlas_router, client, session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    user = SandboxUser(7101, "Aigerim", language_code="kk")
    message = shown(await client.send(user, "/atlas"))[-1]
    text = message["plain"]
    data = await service.public_atlas(session, 5)
    section = text.split(tr("Members by country", "kk"), 1)[1].split("\n\n", 1)[0]
    for entry in data["members_by_country"]:
        assert f"• {country_label(entry['country'], 'kk')} — {plain_count(entry, 'kk')}" in section
    assert "16" in section
    assert not any("atlasx" in (data or "") for row in client.buttons(message) for _, data in row), "no secretariat button"
    document = shown(await client.press(user, tr("📄 Open data (JSON)", "kk")))[-1]
    exported = json.loads(await client.document(document))
    assert {k: v for k, v in exported.items() if k != "generated_at"} == {k: v for k, v in data.items() if k != "generated_at"}
    await client.press(user, tr("🗺 Map", "kk"), message_id=message["message_id"])
    photo = await next_photo(client, user.id)
    assert photo["photo"]["width"] > 600 and photo["text"] == tr("Where our members live", "kk")
    picture = await running_bot.bot.download(photo["photo"]["file_id"])
    assert picture.read().startswith(PNG)


async def test_an_empty_atlas_says_no_data_yet(running_bot, atlas_router, client) -> None:  # type: ignore[no-untyped-def]
    user = SandboxUser(7102, "Ruslan", language_code="ru")
    message = shown(await client.send(user, "/atlas"))[-1]
    assert message["plain"] == re.sub(r"<[^>]+>", "", tr("<b>Diaspora Atlas</b>\nNo data yet: the atlas fills in as members register.", "ru"))
    await client.press(user, tr("📊 Countries", "ru"))
    assert (await next_photo(client, user.id))["photo"]["width"] > 600


async def test_the_secretariat_sees_the_city_by_origin_breakdown(running_bot, atlas_router, client, session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    session.add_all([member(900, "DE", "Berlin", "TR")] + [member(7200 + i, "DE", "Köln", "TR") for i in range(6)])
    await session.commit()
    user = SandboxUser(900, "Secretariat", language_code="en")
    await client.send(user, "/atlas")
    await client.press(user, "🔎 Breakdowns (secretariat)")
    reply = shown(await client.press(user, "City × origin"))[-1]["plain"]
    assert reply.startswith("City × origin")
    print(reply)
    assert "• İstanbul (Türkiye): Azerbaijan 6" in reply
    # Berlin: Türkiye 10 beside Kazakhstan 4 would give the 4 away (Berlin's 14 is published).
    assert "• Berlin (Germany): Türkiye ✱ · Kazakhstan ✱" in reply
    assert "Казань" in reply and "Uzbekistan ✱" in reply


async def test_a_member_who_lost_the_secretariat_role_cannot_open_a_breakdown(running_bot, atlas_router, client, session) -> None:  # type: ignore[no-untyped-def]
    await seed(session)
    official = member(7103, "DE", "Berlin", "TR")
    session.add(official)
    await session.flush()
    role = Role(member_id=official.id, role=RoleName.SECRETARIAT.value)
    session.add(role)
    await session.commit()
    user = SandboxUser(7103, "Former", language_code="en")
    message = shown(await client.send(user, "/atlas"))[-1]
    assert any(text == "🔎 Breakdowns (secretariat)" for row in client.buttons(message) for text, _ in row)
    await session.delete(role)
    await session.commit()
    replies = await client.press(user, "🔎 Breakdowns (secretariat)", message_id=message["message_id"])
    answers = [a for a in replies if a.get("type") == "callback_answer"]
    assert answers and answers[0]["show_alert"] and answers[0]["text"] == "This is for the secretariat only."
    assert not shown(replies), "nothing was sent"
