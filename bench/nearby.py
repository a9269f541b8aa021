"""Benchmark: the 20 nearest places within 25 km through the geo_cell index vs a full scan.

    .venv/bin/python bench/nearby.py --places 1000000 --db both --queries 500

Builds synthetic organisations clustered around real cities in scratch databases (a SQLite file
under /tmp and the PostgreSQL database `kardes_bench`, created and dropped here), migrated with
`db.migrate.upgrade`, bulk-loaded with the drivers' fast paths (sqlite3 executemany in one
transaction, asyncpg COPY).  Then it times `DirectoryRepo.nearby(..., limit=20)` (the query the
bot uses, without the exact total) from query points near those cities, and the same query with
the cell filter removed (every row read, distances computed in Python) on a few points, and
checks both give the same answer.  Prints one JSON line per database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from db.directory_repo import KINDS, DirectoryRepo  # noqa: E402
from db.migrate import upgrade  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402
from db.spatial import cell_of  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/kardes_bench"
SQLITE_PATH = Path("/tmp/kardes_bench/nearby.sqlite3")

# City centres where the synthetic places cluster (weight ~ relative size of the cluster).
CITIES = [
    (52.5200, 13.4050, 8), (50.9375, 6.9603, 4), (48.1351, 11.5820, 4), (50.1109, 8.6821, 3),
    (53.5511, 9.9937, 3), (48.7758, 9.1829, 3), (52.3676, 4.9041, 3), (50.8503, 4.3517, 3),
    (48.2082, 16.3738, 3), (47.3769, 8.5417, 2), (51.5074, -0.1278, 5), (48.8566, 2.3522, 5),
    (59.3293, 18.0686, 2), (52.2297, 21.0122, 2), (50.0755, 14.4378, 2), (55.7558, 37.6173, 8),
    (59.9311, 30.3609, 4), (55.7961, 49.1064, 3), (55.0084, 82.9357, 2), (40.7128, -74.0060, 5),
    (41.8781, -87.6298, 3), (38.9072, -77.0369, 2), (43.6532, -79.3832, 3), (37.5665, 126.9780, 3),
    (35.6762, 139.6503, 3), (25.2048, 55.2708, 3), (41.0082, 28.9784, 10), (39.9334, 32.8597, 6),
    (40.4093, 49.8671, 5), (43.2220, 76.8512, 5), (51.1694, 71.4491, 3), (42.8746, 74.5698, 3),
    (41.2995, 69.2401, 5), (37.9601, 58.3261, 2), (-33.8688, 151.2093, 2), (-37.8136, 144.9631, 2),
]
CATEGORIES = ("cultural_centre", "association", "school", "business", "religious", "media", "student", "official")


def synthetic_places(n: int, seed: int) -> list[tuple[str, str, float, float, int]]:
    """(name, category, lat, lon, geo_cell): most within ~10 km of a centre, a tail up to ~100 km."""
    rng = random.Random(seed)
    weights = [w for *_, w in CITIES]
    centres = rng.choices(CITIES, weights=weights, k=n)
    places = []
    for i, (clat, clon, _) in enumerate(centres):
        sigma_km = 6.0 if rng.random() < 0.7 else 35.0
        lat = max(-89.9, min(89.9, clat + rng.gauss(0, sigma_km) / 111.2))
        lon = clon + rng.gauss(0, sigma_km) / (111.32 * math.cos(math.radians(clat)))
        lon = (lon + 540.0) % 360.0 - 180.0
        places.append((f"Place {i}", CATEGORIES[i % len(CATEGORIES)], lat, lon, cell_of(lat, lon)))
    return places


def query_points(n: int, seed: int) -> list[tuple[float, float]]:
    """Where members ask from: around the same cities (the dense, hard case)."""
    rng = random.Random(seed + 1)
    points = []
    for clat, clon, _ in rng.choices(CITIES, weights=[w for *_, w in CITIES], k=n):
        points.append((clat + rng.gauss(0, 10) / 111.2, clon + rng.gauss(0, 10) / (111.32 * math.cos(math.radians(clat)))))
    return points


def load_sqlite(path: Path, places: list[tuple[str, str, float, float, int]]) -> None:
    created = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    with connection:
        connection.executemany(
            "INSERT INTO organisations (name, name_translations, category, latitude, longitude, geo_cell, languages,"
            " verified, trusted, is_active, is_sample, created_at) VALUES (?, '{}', ?, ?, ?, ?, '[]', 0, 0, 1, 0, ?)",
            ((name, cat, lat, lon, cell, created) for name, cat, lat, lon, cell in places),
        )
    connection.execute("ANALYZE")
    connection.close()


async def load_postgres(places: list[tuple[str, str, float, float, int]]) -> None:
    import asyncpg

    created = datetime.now(timezone.utc)
    connection = await asyncpg.connect(PG_URL.replace("+asyncpg", ""))
    try:
        await connection.copy_records_to_table(
            "organisations",
            columns=["name", "name_translations", "category", "latitude", "longitude", "geo_cell", "languages",
                     "verified", "trusted", "is_active", "is_sample", "created_at"],
            records=((name, "{}", cat, lat, lon, cell, "[]", False, False, True, False, created) for name, cat, lat, lon, cell in places),
        )
        await connection.execute("VACUUM ANALYZE organisations")
        await connection.execute("ANALYZE events")
    finally:
        await connection.close()


async def recreate_postgres(drop_only: bool = False) -> None:
    import asyncpg

    admin = await asyncpg.connect(PG_ADMIN)
    try:
        await admin.execute("DROP DATABASE IF EXISTS kardes_bench WITH (FORCE)")
        if not drop_only:
            await admin.execute("CREATE DATABASE kardes_bench")
    finally:
        await admin.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def measure(url: str, label: str, places: int, queries: int, full_scans: int, seed: int, build_s: float) -> dict[str, object]:
    engine = create_engine(url)
    factory = create_session_factory(engine)
    points = query_points(queries, seed)
    times: list[float] = []
    async with factory() as session:
        repo = DirectoryRepo(session)
        for lat, lon in points[:20]:  # warm caches and statement compilation
            await repo.nearby(lat, lon, 25, kinds=KINDS, limit=20, with_total=False)
        for lat, lon in points:
            start = time.perf_counter()
            result = await repo.nearby(lat, lon, 25, kinds=KINDS, limit=20, with_total=False)
            times.append((time.perf_counter() - start) * 1000)
            assert len(result.hits) <= 20
        full_times: list[float] = []
        for lat, lon in points[:full_scans]:
            start = time.perf_counter()
            full = await repo.nearby(lat, lon, 25, kinds=KINDS, limit=20, with_total=False, use_index=False)
            full_times.append((time.perf_counter() - start) * 1000)
            fast = await repo.nearby(lat, lon, 25, kinds=KINDS, limit=20, with_total=False)
            if fast.hits != full.hits:
                raise AssertionError(f"index and full scan disagree at {lat}, {lon}")
    await engine.dispose()
    p50 = statistics.median(times)
    full_p50 = statistics.median(full_times) if full_times else float("nan")
    return {
        "db": label,
        "places": places,
        "p50_ms": round(p50, 3),
        "p99_ms": round(percentile(times, 0.99), 3),
        "full_scan_p50_ms": round(full_p50, 1),
        "speedup": round(full_p50 / p50, 1),
        "queries": len(times),
        "full_scan_queries": len(full_times),
        "build_s": round(build_s, 1),
    }


async def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    places = synthetic_places(args.places, args.seed)
    generated = time.perf_counter() - started
    targets = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    for target in targets:
        start = time.perf_counter()
        if target == "sqlite":
            SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
            for suffix in ("", "-wal", "-shm"):
                Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
            url = f"sqlite+aiosqlite:///{SQLITE_PATH}"
            upgrade(url)
            load_sqlite(SQLITE_PATH, places)
        else:
            await recreate_postgres()
            url = PG_URL
            upgrade(url)
            await load_postgres(places)
        build_s = generated + time.perf_counter() - start
        line = await measure(url, target, args.places, args.queries, args.full_scan_queries, args.seed, build_s)
        print(json.dumps(line), flush=True)
        if not args.keep:
            if target == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
            else:
                await recreate_postgres(drop_only=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--places", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--full-scan-queries", type=int, default=5, help="the full scan reads every row: keep this small")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch databases afterwards")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
