"""The event importer checks categories and capacity as the /submit_event form does: a bad row is
refused with its line number, nothing of the file is stored, and the sample data passes."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.services.events import EVENT_CATEGORIES
from bot.services.importer import SAMPLE_EVENTS, import_events
from db.models import Event, Organisation

HEADER = "organisation_external_id,title,starts_at,timezone,category,capacity\n"


async def _host(session) -> None:  # type: ignore[no-untyped-def]
    session.add(Organisation(external_id="host", name="Host", category="cultural_centre", latitude=52.52, longitude=13.40,
                             city="Berlin", country_code="DE"))
    await session.commit()


async def test_a_category_outside_the_list_is_refused_with_its_line(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _host(session)
    path = tmp_path / "events.csv"
    path.write_text(HEADER
                    + "host,Nevruz,2030-03-21T19:00:00+01:00,Europe/Berlin,culture,40\n"
                    + "host,Konzert,2030-03-22T19:00:00+01:00,Europe/Berlin,music,40\n"
                    + "host,Kino,2030-03-23T19:00:00+01:00,Europe/Berlin,,40\n", encoding="utf-8")
    report = await import_events(session, path)
    assert [(problem.line, "unknown category" in problem.reason) for problem in report.errors] == [(3, True), (4, True)]
    assert "'music'" in str(report.errors[0]) and "line 3" in str(report.errors[0])
    assert await session.scalar(select(func.count()).select_from(Event)) == 0  # all or nothing


async def test_capacity_must_be_between_one_and_a_hundred_thousand(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    await _host(session)
    base = {"organisation_external_id": "host", "starts_at": "2030-03-21T19:00:00+01:00", "timezone": "Europe/Berlin",
            "category": "culture"}
    rows = [{**base, "title": "Zero", "capacity": 0}, {**base, "title": "Huge", "capacity": 100_001},
            {**base, "title": "Words", "capacity": "many"}, {**base, "title": "Fine", "capacity": 100_000},
            {**base, "title": "Open"}]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    report = await import_events(session, path, skip_bad=True)
    assert len(report.errors) == 3 and all("from 1 to 100000" in problem.reason for problem in report.errors)
    assert [problem.line for problem in report.errors] == sorted(problem.line for problem in report.errors)
    stored = {event.title: event.capacity for event in await session.scalars(select(Event))}
    assert stored == {"Fine": 100_000, "Open": None}


def test_every_sample_event_uses_a_real_category() -> None:
    items = json.loads(SAMPLE_EVENTS.read_text(encoding="utf-8"))["items"]
    assert len(items) >= 60
    assert {item["category"] for item in items} <= set(EVENT_CATEGORIES)
    assert all(item.get("capacity") is None or 1 <= item["capacity"] <= 100_000 for item in items)
