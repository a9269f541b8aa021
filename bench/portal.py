"""Benchmark: portal pages on 10 000 organisations and 20 000 events.

    .venv/bin/python bench/portal.py [--orgs 10000] [--events 20000] [--requests 200] [--db sqlite|postgresql]

Seeds a scratch database (a SQLite file under /tmp, or the PostgreSQL database `kardes_bench_portal`,
created and dropped here), migrated with `db.migrate.upgrade`, with synthetic organisations in
cities written in several scripts and approved events spread over the coming year.  Serves the
portal with `bot.web.start_http` on 127.0.0.1 (a free port) and requests each page type one after
another over HTTP (so a figure includes aiohttp, the queries and Jinja2), after a warm-up request.
Then measures directory searches per second with 8 concurrent clients for a few seconds.
Prints one JSON line: p50/p99 milliseconds per page type, and directory-search requests per second.
The target is p99 < 50 ms per page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from bot.config import load_settings  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.models import Event, EventStatus, Organisation  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/kardes_bench_portal"
SQLITE_PATH = Path("/tmp/kardes_bench/portal.sqlite3")
CITIES = [("Berlin", "DE", "Europe/Berlin"), ("Köln", "DE", "Europe/Berlin"), ("İstanbul", "TR", "Europe/Istanbul"),
          ("Ankara", "TR", "Europe/Istanbul"), ("Алматы", "KZ", "Asia/Almaty"), ("Astana", "KZ", "Asia/Almaty"),
          ("Бишкек", "KG", "Asia/Bishkek"), ("Toshkent", "UZ", "Asia/Tashkent"), ("Bakı", "AZ", "Asia/Baku"),
          ("Aşgabat", "TM", "Asia/Ashgabat"), ("Москва", "RU", "Europe/Moscow"), ("London", "GB", "Europe/London"),
          ("New York", "US", "America/New_York"), ("Wien", "AT", "Europe/Vienna"), ("Paris", "FR", "Europe/Paris")]
WORDS = ["Türk", "Qazaq", "Kyrgyz", "Oʻzbek", "Türkmen", "Azərbaycan", "Dostluk", "Birlik", "Kültür", "Мәдени",
         "Ortalyq", "Derneği", "Центр", "Mektebi", "Ассоциация", "Jaslar", "Öğrenci", "Iş", "Medeniýet", "Dil"]
CATEGORIES = ("cultural_centre", "association", "school", "business", "religious", "media", "student", "official")
INTERESTS = ("culture", "education", "business", "religion", "youth", "sports", "media", "consular", "volunteering")
LANGS = ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en", "de")


async def seed(url: str, orgs: int, events: int, rng: random.Random) -> None:
    engine = create_engine(url)
    now = datetime.now(timezone.utc)
    try:
        async with create_session_factory(engine)() as session:
            rows = []
            for n in range(orgs):
                city, country, _zone = rng.choice(CITIES)
                name = " ".join(rng.sample(WORDS, 3)) + f" {n}"
                rows.append({"name": name, "category": rng.choice(CATEGORIES), "country_code": country, "city": city,
                             "languages": rng.sample(LANGS, 2), "name_translations": {}, "is_active": n % 20 != 0,
                             "verified": n % 3 == 0, "trusted": False, "is_sample": False, "confirm_asks": 0,
                             "email": f"org{n}@example.org", "created_at": now})
            for start in range(0, len(rows), 2000):
                await session.execute(insert(Organisation), rows[start:start + 2000])
            rows = []
            for n in range(events):
                city, country, zone = rng.choice(CITIES)
                rows.append({"organisation_id": rng.randint(1, orgs), "title": " ".join(rng.sample(WORDS, 2)) + f" #{n}",
                             "starts_at": now + timedelta(minutes=rng.randint(60, 365 * 24 * 60)), "timezone": zone,
                             "city": city, "country_code": country, "languages": rng.sample(LANGS, 1),
                             "category": rng.choice(INTERESTS), "venue": "Hall", "is_sample": False,
                             "status": EventStatus.APPROVED.value if n % 10 else EventStatus.PENDING.value,
                             "created_at": now})
            for start in range(0, len(rows), 2000):
                await session.execute(insert(Event), rows[start:start + 2000])
            await session.commit()
    finally:
        await engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def measure(base: str, paths: list[str], http: aiohttp.ClientSession) -> dict[str, float]:
    async with http.get(base + paths[0]) as reply:  # warm-up (templates, caches, the directory index)
        await reply.read()
    times = []
    for path in paths:
        started = time.perf_counter()
        async with http.get(base + path) as reply:
            await reply.read()
            if reply.status != 200:
                raise SystemExit(f"{path}: HTTP {reply.status}")
        times.append((time.perf_counter() - started) * 1000)
    return {"p50_ms": round(statistics.median(times), 2), "p99_ms": round(percentile(times, 0.99), 2)}


async def throughput(base: str, queries: list[str], seconds: float, clients: int) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(http: aiohttp.ClientSession, offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            async with http.get(f"{base}/en/directory?q={queries[i % len(queries)]}") as reply:
                await reply.read()
            done += 1
            i += clients

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http, k) for k in range(clients)))
        return done / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> dict[str, object]:
    rng = random.Random(14)
    if args.db == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute("DROP DATABASE IF EXISTS kardes_bench_portal WITH (FORCE)")
            admin.execute("CREATE DATABASE kardes_bench_portal")
        url = PG_URL
    else:
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        if SQLITE_PATH.exists():
            SQLITE_PATH.unlink()
        url = f"sqlite+aiosqlite:///{SQLITE_PATH}"
    await asyncio.to_thread(upgrade, url)
    started = time.perf_counter()
    await seed(url, args.orgs, args.events, rng)
    seeded = time.perf_counter() - started

    # The portal runs in its own process, as in production, so the client does not share its CPU time.
    server = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", url, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "BOT_USERNAME": "kardes_bench_bot"})
    line = await asyncio.wait_for(server.stdout.readline(), timeout=60)  # type: ignore[union-attr]
    base = f"http://127.0.0.1:{int(line)}"
    engine = create_engine(url)
    n = args.requests
    queries = ["alm", "Алматы", "turk", "istanbul", "qazaq", "мәдени", "birlik derne", "kyrgyz", "центр", "dil"]
    async with create_session_factory(engine)() as session:
        from sqlalchemy import select

        org_ids = list(await session.scalars(select(Organisation.id).where(Organisation.is_active.is_(True))))
        event_ids = list(await session.scalars(
            select(Event.id).join(Organisation, Organisation.id == Event.organisation_id)
            .where(Event.status == EventStatus.APPROVED.value, Organisation.is_active.is_(True))))
    pages = {
        "home": [f"/{rng.choice(LANGS[:8])}/" for _ in range(n)],
        "directory": [f"/en/directory?page={rng.randint(1, 400)}" for _ in range(n)],
        "directory_search": [f"/kk/directory?q={rng.choice(queries)}" for _ in range(n)],
        "directory_filter": [f"/ru/directory?country={rng.choice(CITIES)[1]}&category={rng.choice(CATEGORIES)}"
                             f"&language={rng.choice(LANGS)}" for _ in range(n)],
        "organisation": [f"/tr/organisations/{rng.choice(org_ids)}" for _ in range(n)],
        "events_list": [f"/en/events?page={rng.randint(1, 100)}" for _ in range(n)],
        "events_filter": [f"/en/events?city={rng.choice(['Almaty', 'Istanbul', 'Koln', 'Bishkek'])}"
                          f"&category={rng.choice(INTERESTS)}" for _ in range(n)],
        "event": [f"/ky/events/{rng.choice(event_ids)}" for _ in range(n)],
        "feed": [f"/feeds/events.ics?city={rng.choice(['Almaty', 'Berlin', 'Toshkent'])}" for _ in range(max(20, n // 10))],
        "atlas": ["/uz/atlas" for _ in range(n)],
        "sitemap": ["/sitemap.xml" for _ in range(max(10, n // 20))],
        "sitemap_part": [f"/sitemaps/{rng.randint(1, 25)}.xml" for _ in range(max(10, n // 5))],
    }
    result: dict[str, object] = {"bench": "portal", "db": args.db, "organisations": args.orgs, "events": args.events,
                                 "seed_s": round(seeded, 1)}
    try:
        async with aiohttp.ClientSession() as http:
            for name, paths in pages.items():
                result[name] = await measure(base, paths, http)
        result["directory_search_rps"] = round(await throughput(base, queries, args.seconds, 8), 1)
    finally:
        server.stdin.close()  # type: ignore[union-attr]
        await server.wait()
        await engine.dispose()
        if args.db == "postgresql":
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute("DROP DATABASE IF EXISTS kardes_bench_portal WITH (FORCE)")
    # The calendar feed is not a page: its first request per filter renders up to 500 events with
    # icalendar (~0.4 ms each), then it is served from a one-minute cache; reported, not in the target.
    worst = max(v["p99_ms"] for k, v in result.items() if isinstance(v, dict) and "p99_ms" in v and k != "feed")  # type: ignore[index]
    result["worst_page_p99_ms"] = worst
    result["load_average_1m"] = round(os.getloadavg()[0], 2)  # the machine is shared: context for the figures
    result["target_met"] = worst < 50
    return result


async def serve(url: str) -> None:
    """The portal on a free port (printed), until stdin closes."""
    from bot.web import public_routes, start_http

    settings = load_settings(database_url=url, bot_token="1:bench", telegram_api_base="http://127.0.0.1:9")
    engine = create_engine(url)
    runner = await start_http(public_routes(create_session_factory(engine), settings), "127.0.0.1", 0)
    print(runner.addresses[0][1], flush=True)
    await asyncio.to_thread(sys.stdin.read)
    await runner.cleanup()
    await engine.dispose()


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--serve":
        asyncio.run(serve(sys.argv[2]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orgs", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per page type")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the search throughput run")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    print(json.dumps(asyncio.run(run(parser.parse_args())), ensure_ascii=False))


if __name__ == "__main__":
    main()
