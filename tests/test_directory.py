"""The directory: nearby search over the spatial key, text search, import/export and sample data."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from bot.services import directory
from bot.services.importer import (
    ORGANISATION_COLUMNS,
    ImportFileError,
    export_events,
    export_organisations,
    import_events,
    import_organisations,
    load_sample_data,
)
from db.directory_repo import DirectoryRepo
from db.models import Event, Organisation
from db.spatial import cell_of, cell_range, cells_covering, haversine_km, ranges_covering

BERLIN = (52.5200, 13.4050)
COLOGNE = (50.9375, 6.9603)
NOW = datetime(2030, 1, 15, 12, 0, tzinfo=timezone.utc)


def org(external_id: str, name: str, lat: float, lon: float, **fields: object) -> Organisation:
    values: dict[str, object] = {"category": "association", "city": "Berlin", "is_active": True}
    values.update(fields)
    return Organisation(external_id=external_id, name=name, latitude=lat, longitude=lon, **values)


def event(host: Organisation, title: str, lat: float, lon: float, *, days: float = 3, status: str = "approved") -> Event:
    return Event(
        organisation_id=host.id,
        title=title,
        starts_at=NOW + timedelta(days=days),
        timezone="Europe/Berlin",
        latitude=lat,
        longitude=lon,
        status=status,
    )


def write_csv(path: Path, rows: list[dict[str, object]], columns: tuple[str, ...] = ORGANISATION_COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns))
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def good_row(n: int, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "external_id": f"ext-{n}",
        "name": f"Kazakh Association {n}",
        "category": "association",
        "country_code": "de",
        "city": "Berlin",
        "latitude": "52.52",
        "longitude": "13.40",
        "languages": "kk,de",
        "email": f"info{n}@example.org",
        "website": f"https://example.org/{n}",
    }
    row.update(overrides)
    return row


async def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return await session.scalar(select(func.count()).select_from(model))


# --- the spatial key ----------------------------------------------------------------------


def test_every_point_inside_a_circle_lies_in_its_covering_cells() -> None:
    import math
    import random

    rng = random.Random(7)
    for _ in range(2000):
        lat = rng.choice([rng.uniform(-90, 90), 89.99, -89.99, 0.0, 66.0])
        lon = rng.choice([rng.uniform(-180, 180), 179.995, -179.995, 180.0])
        radius = rng.choice([1, 25, 100, 500])
        ranges = ranges_covering(lat, lon, radius)
        assert len(cells_covering(lat, lon, radius)) <= 16
        for _ in range(10):
            # A random point at most `radius` away (destination-point formula).
            d = radius * math.sqrt(rng.random()) * 0.9999 / 6371.0088
            b = rng.uniform(0, 2 * math.pi)
            p1, l1 = math.radians(lat), math.radians(lon)
            p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
            l2 = l1 + math.atan2(math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2))
            plat, plon = math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180
            key = cell_of(plat, plon)
            assert any(lo <= key <= hi for lo, hi in ranges), (lat, lon, radius, plat, plon)


def test_a_25_km_query_touches_few_cells_and_a_leaf_is_its_own_range() -> None:
    assert len(cells_covering(*BERLIN, 25)) <= 12
    leaf = cell_of(*BERLIN)
    assert cell_range(leaf) == (leaf, leaf)
    with pytest.raises(ValueError):
        cell_of(91, 0)


async def test_places_across_the_antimeridian_see_each_other(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([org("fiji-east", "Taveuni Turkic Club", -16.8, 179.99), org("fiji-west", "Rabi Club", -16.8, -179.99)])
    await session.commit()
    page = await directory.nearby(session, -16.8, 179.995, 10, limit=10)
    assert {item.name for item in page.items} == {"Taveuni Turkic Club", "Rabi Club"}


# --- nearby ---------------------------------------------------------------------------------


async def test_member_in_berlin_sees_berlin_organisations_before_cologne(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all(
        [
            org("k1", "Köln Türk Derneği", *COLOGNE, city="Köln"),
            org("b1", "Kreuzberg Centre", 52.4986, 13.4030),
            org("b2", "Mitte Centre", 52.5210, 13.4100),
            org("b3", "Closed Centre", 52.5201, 13.4051, is_active=False),
        ]
    )
    await session.commit()
    page = await directory.nearby(session, *BERLIN, 500, limit=10, now=NOW)
    assert [item.name for item in page.items] == ["Mitte Centre", "Kreuzberg Centre", "Köln Türk Derneği"]
    assert [item.kind for item in page.items] == ["organisation"] * 3
    distances = [item.distance_km for item in page.items]
    assert distances == sorted(distances)
    assert 470 < distances[-1] < 490  # Berlin-Cologne by great circle
    assert page.total == 3 and not page.has_next


async def test_a_smaller_radius_shrinks_the_list(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([org("k1", "Köln", *COLOGNE), org("b1", "Kreuzberg", 52.4986, 13.4030), org("p1", "Potsdam", 52.3906, 13.0645)])
    await session.commit()
    wide = await directory.nearby(session, *BERLIN, 500, limit=10)
    middle = await directory.nearby(session, *BERLIN, 30, limit=10)
    narrow = await directory.nearby(session, *BERLIN, 5, limit=10)
    assert (wide.total, middle.total, narrow.total) == (3, 2, 1)
    assert [i.name for i in narrow.items] == ["Kreuzberg"]


async def test_nearby_mixes_upcoming_approved_events_and_filters_by_kind(session) -> None:  # type: ignore[no-untyped-def]
    host = org("b1", "Host Centre", 52.50, 13.40, category="cultural_centre")
    other = org("b2", "Student Club", 52.51, 13.41, category="student")
    session.add_all([host, other])
    await session.flush()
    session.add_all(
        [
            event(host, "Nevruz", 52.505, 13.405),
            event(host, "Old Nevruz", 52.505, 13.405, days=-1),
            event(host, "Pending Concert", 52.505, 13.405, status="pending"),
        ]
    )
    await session.commit()
    both = await directory.nearby(session, *BERLIN, 25, limit=10, now=NOW)
    assert sorted((i.kind, i.name) for i in both.items) == [
        ("event", "Nevruz"),
        ("organisation", "Host Centre"),
        ("organisation", "Student Club"),
    ]
    ev = next(i for i in both.items if i.kind == "event")
    assert ev.starts_at == NOW + timedelta(days=3) and ev.organisation_name == "Host Centre"
    events_only = await directory.nearby(session, *BERLIN, 25, kind="event", now=NOW)
    assert [i.name for i in events_only.items] == ["Nevruz"]
    schools = await directory.nearby(session, *BERLIN, 25, kind="organisation", category="student", now=NOW)
    assert [i.name for i in schools.items] == ["Student Club"]


async def test_pagination_walks_every_page_without_repeats_or_gaps(session) -> None:  # type: ignore[no-untyped-def]
    hosts = [org(f"o{n}", f"Org {n}", 52.50 + (n % 7) * 0.01, 13.40 + (n // 7) * 0.01) for n in range(23)]
    # Same coordinates on purpose: ties must still page deterministically.
    hosts += [org(f"tie{n}", f"Tie {n}", 52.52, 13.405) for n in range(5)]
    session.add_all(hosts)
    await session.flush()
    session.add_all([event(hosts[n], f"Event {n}", 52.52, 13.405) for n in range(4)])
    await session.commit()
    seen: list[tuple[str, int]] = []
    offset, pages = 0, 0
    while True:
        page = await directory.nearby(session, *BERLIN, 50, offset=offset, limit=4, now=NOW)
        assert page.total == 32
        seen += [(i.kind, i.id) for i in page.items]
        pages += 1
        if not page.has_next:
            break
        offset += 4
    assert pages == 8 and len(seen) == 32 and len(set(seen)) == 32
    everything = await directory.nearby(session, *BERLIN, 50, limit=50, now=NOW)
    assert [(i.kind, i.id) for i in everything.items] == seen


async def test_the_fast_path_agrees_with_the_full_scan(session) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(3)
    session.add_all(
        [org(f"r{n}", f"R{n}", 52.52 + rng.gauss(0, 0.05), 13.405 + rng.gauss(0, 0.08)) for n in range(700)]
    )
    await session.commit()
    repo = DirectoryRepo(session)
    for lat, lon in [BERLIN, (52.45, 13.30), (52.70, 13.60)]:
        for offset in (0, 20, 400):
            fast = await repo.nearby(lat, lon, 25, offset=offset, limit=20, with_total=False)
            full = await repo.nearby(lat, lon, 25, offset=offset, limit=20, use_index=False)
            assert fast.hits == full.hits and fast.has_next == full.has_next


async def test_a_point_in_the_ocean_finds_nothing(session) -> None:  # type: ignore[no-untyped-def]
    await load_sample_data(session)
    page = await directory.nearby(session, 30.0, -40.0, 500)
    assert page.items == [] and page.total == 0 and not page.has_next


async def test_nearby_rejects_bad_coordinates_and_radius(session) -> None:  # type: ignore[no-untyped-def]
    for lat, lon, radius in [(91, 0, 25), (0, 181, 25), ("x", 0, 25), (0, 0, 0.5), (0, 0, 501), (0, 0, float("nan"))]:
        with pytest.raises(ValueError):
            await directory.nearby(session, lat, lon, radius)


# --- search ---------------------------------------------------------------------------------


async def test_search_folds_turkish_letters_and_cyrillic(session) -> None:  # type: ignore[no-untyped-def]
    await load_sample_data(session)
    found = await directory.search(session, "turk kultur", limit=10)
    assert found.items[0].name == "Türk Kültür Merkezi"
    assert "Türk Kültür Merkezi" in [o.name for o in (await directory.search(session, "TÜRK KÜLTÜR", limit=10)).items]
    almaty = await directory.search(session, "almaty", limit=50)
    assert "Алматы" in {o.city for o in almaty.items}
    assert all(o.is_active for o in almaty.items)
    # Translated names match too: the Kazakh centre's English name.
    assert (await directory.search(session, "atameken", limit=50)).total >= 1
    assert (await directory.search(session, "   ", limit=5)).total == 0


async def test_search_pages_and_skips_inactive(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([org(f"s{n}", f"Kazak Derneği {n:02d}", 52.5, 13.4) for n in range(12)])
    session.add(org("gone", "Kazak Derneği Kapalı", 52.5, 13.4, is_active=False))
    await session.commit()
    first = await directory.search(session, "Қазақ", limit=5)  # Cyrillic query, Latin names
    second = await directory.search(session, "kazak", limit=5, offset=5)
    assert first.total == second.total == 12 and first.has_next
    assert not {o.id for o in first.items} & {o.id for o in second.items}


# --- import / export --------------------------------------------------------------------------


async def test_a_file_with_one_bad_row_imports_nothing_and_says_where(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "orgs.csv", [good_row(1), good_row(2, latitude="95.1"), good_row(3)])
    report = await import_organisations(session, path)
    assert report.imported == 0 and await count(session, Organisation) == 0
    assert [(p.line, p.key) for p in report.errors] == [(3, "ext-2")]
    assert "coordinates" in report.errors[0].reason
    assert "line 3 (ext-2): bad coordinates" in report.summary()


async def test_skip_bad_imports_the_good_rows(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "orgs.csv", [good_row(1), good_row(2, latitude="north"), good_row(3)])
    report = await import_organisations(session, path, skip_bad=True)
    assert (report.created, report.skipped) == (2, 1)
    names = set(await session.scalars(select(Organisation.external_id)))
    assert names == {"ext-1", "ext-3"}
    stored = await session.scalar(select(Organisation).where(Organisation.external_id == "ext-1"))
    assert stored.geo_cell == cell_of(52.52, 13.40) and stored.country_code == "DE" and stored.languages == ["kk", "de"]


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"name": ""}, "missing name"),
        ({"external_id": ""}, "missing external_id"),
        ({"category": "nightclub"}, "unknown category"),
        ({"latitude": "", "longitude": "13.4"}, "bad coordinates"),
        ({"longitude": "200"}, "bad coordinates"),
        ({"email": "not-an-email"}, "bad email"),
        ({"website": "javascript:alert(1)"}, "bad website"),
        ({"name": "x" * 201}, "name is too long"),
        ({"city": "y" * 121}, "city is too long"),
        ({"languages": "tr,xx"}, "unknown language code"),
        ({"country_code": "XX"}, "not an ISO 3166 alpha-2"),
        ({"country_code": "DEU"}, "not an ISO 3166 alpha-2"),
        ({"name_translations": '{"zz": "Name"}'}, "unknown language code"),
        ({"verified": "maybe"}, "verified must be true or false"),
    ],
)
async def test_each_kind_of_bad_row_is_reported(session, tmp_path, override, reason) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "orgs.csv", [good_row(1), good_row(2, **override)])
    report = await import_organisations(session, path)
    assert len(report.errors) == 1 and report.errors[0].line == 3
    assert reason in report.errors[0].reason


async def test_json_rows_are_reported_by_the_line_they_start_on(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    rows = [good_row(1, latitude=52.5, longitude=13.4, languages=["kk"]), good_row(2, latitude=True), good_row(1)]
    path = tmp_path / "orgs.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    report = await import_organisations(session, path)
    starts = [n for n, line in enumerate(path.read_text().splitlines(), start=1) if line == " {"]
    assert [(p.line, p.key) for p in report.errors] == [(starts[1], "ext-2"), (starts[2], "ext-1")]
    assert "duplicate external_id" in report.errors[1].reason
    with pytest.raises(ImportFileError):
        (tmp_path / "broken.json").write_text("[{", encoding="utf-8")
        await import_organisations(session, tmp_path / "broken.json")
    with pytest.raises(ImportFileError, match="unknown columns"):
        (tmp_path / "odd.csv").write_text("external_id,lattitude\nx,1\n", encoding="utf-8")
        await import_organisations(session, tmp_path / "odd.csv")


async def test_reimport_updates_in_place(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = write_csv(tmp_path / "orgs.csv", [good_row(1), good_row(2)])
    first = await import_organisations(session, path)
    await session.commit()
    again = await import_organisations(session, path)
    assert (first.created, again.created, again.unchanged) == (2, 0, 2)
    write_csv(path, [good_row(1), good_row(2, name="Renamed", latitude="50.9375", longitude="6.9603")])
    changed = await import_organisations(session, path)
    await session.commit()
    assert (changed.updated, changed.unchanged) == (1, 1)
    assert await count(session, Organisation) == 2
    renamed = await session.scalar(select(Organisation).where(Organisation.external_id == "ext-2"))
    assert renamed.name == "Renamed" and renamed.geo_cell == cell_of(50.9375, 6.9603)


@pytest.mark.parametrize("suffix", [".csv", ".json"])
async def test_export_then_import_round_trips(session, tmp_path, suffix) -> None:  # type: ignore[no-untyped-def]
    await load_sample_data(session, now=NOW)
    bare = org(None, "Bare <b>&amp; co", 41.0, 29.0, category="media", city="İstanbul")  # type: ignore[arg-type]
    session.add(bare)
    await session.commit()
    orgs_file, events_file = tmp_path / f"orgs{suffix}", tmp_path / f"events{suffix}"
    assert await export_organisations(session, orgs_file) == 183
    assert await export_events(session, events_file) >= 60
    await session.execute(delete(Event))
    await session.execute(delete(Organisation))
    await session.commit()
    orgs_report = await import_organisations(session, orgs_file)
    events_report = await import_events(session, events_file)
    await session.commit()
    assert (orgs_report.created, orgs_report.errors) == (183, [])
    assert events_report.errors == [] and events_report.created >= 60
    again_orgs, again_events = tmp_path / f"again-orgs{suffix}", tmp_path / f"again-events{suffix}"
    await export_organisations(session, again_orgs)
    await export_events(session, again_events)
    assert again_events.read_text(encoding="utf-8") == events_file.read_text(encoding="utf-8")
    # Identical apart from the generated id of the row that had none (it is now stored).
    assert again_orgs.read_text(encoding="utf-8") == orgs_file.read_text(encoding="utf-8")
    restored = await session.scalar(select(Organisation).where(Organisation.name == "Bare <b>&amp; co"))
    assert restored.external_id.startswith("kardes-org-")


async def test_events_import_validates_times_zones_and_hosts(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    session.add(org("host", "Host", *BERLIN))
    await session.commit()
    base = {"organisation_external_id": "host", "title": "Nevruz", "starts_at": "2030-03-21T19:00:00+01:00", "timezone": "Europe/Berlin",
            "category": "culture"}
    rows = [
        base,
        {**base, "title": "Naive", "starts_at": "2030-03-21T19:00:00"},
        {**base, "title": "Zone", "timezone": "Mars/Olympus"},
        {**base, "title": "Orphan", "organisation_external_id": "nobody"},
        {**base, "title": "Backwards", "ends_at": "2030-03-21T18:00:00+01:00"},
    ]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    report = await import_events(session, path)
    reasons = [p.reason for p in report.errors]
    assert report.imported == 0 and len(reasons) == 4
    assert "UTC offset" in reasons[0] and "time zone" in reasons[1] and "unknown organisation" in reasons[2]
    assert "before starts_at" in reasons[3]
    report = await import_events(session, path, skip_bad=True)
    stored = await session.scalar(select(Event))
    assert report.created == 1 and stored.starts_at == datetime(2030, 3, 21, 18, 0, tzinfo=timezone.utc)
    assert stored.status == "approved" and (stored.latitude, stored.longitude) == BERLIN  # the host's place
    assert stored.geo_cell == cell_of(*BERLIN)


# --- sample data ------------------------------------------------------------------------------


async def test_sample_data_loads_enough_upcoming_places_idempotently(session) -> None:  # type: ignore[no-untyped-def]
    orgs, events = await load_sample_data(session)
    await session.commit()
    assert orgs >= 150 and events >= 60
    again = await load_sample_data(session, now=datetime.now(timezone.utc) + timedelta(days=40))
    await session.commit()
    assert again == (orgs, events)
    assert await count(session, Organisation) == orgs and await count(session, Event) == events
    rows = list(await session.scalars(select(Organisation)))
    assert all(o.is_sample and o.geo_cell is not None for o in rows)
    assert all("example.org" in (o.email or "") and "example.org" in (o.website or "") for o in rows)
    cities = {(round(o.latitude), round(o.longitude)) for o in rows}
    assert len(cities) >= 30
    upcoming = await session.scalar(
        select(func.count()).select_from(Event).where(Event.starts_at >= datetime.now(timezone.utc), Event.status == "approved")
    )
    assert upcoming >= 60
    assert any(o.name == "Türk Kültür Merkezi" and o.city == "Berlin" for o in rows)
    assert any("<" in o.name and "&" in o.name for o in rows)
    # Nearest-first from central Berlin: the Berlin rows, then the next city.
    page = await directory.nearby(session, *BERLIN, 500, limit=50, kind="organisation")
    cities = [i.city for i in page.items]
    last_berlin = max(n for n, city in enumerate(cities) if city in ("Berlin", "Берлин"))
    assert all(city in ("Berlin", "Берлин") for city in cities[: last_berlin + 1])
    assert len(cities) > last_berlin + 1  # other cities follow within 500 km
