"""Benchmark: one announcement to N members through the real delivery engine at rate R.

    .venv/bin/python bench/broadcast.py --recipients 20000 --rate 30
    .venv/bin/python bench/broadcast.py --recipients 20000 --rate 1000 --paid
    .venv/bin/python bench/broadcast.py --recipients 20000 --rate 1000 --paid --kill-after 8
    .venv/bin/python bench/broadcast.py ... --db postgres

Three processes:
  * the Bot API server: the project's sandbox (`SandboxServer(flood_limit=R)`, answering 429
    beyond R messages in a sliding second), in a child process of its own so that its CPU is
    not counted; the N chats are registered in-process there (no control-API round trips);
  * the engine: bench/broadcast_engine.py, i.e. `DeliveryEngine(bot, sessions, R, paid=...)`
    running the announcement.  With --kill-after S it is SIGKILLed S seconds after it started
    and a fresh engine process resumes the announcement from the table, like the tick job does;
  * this script: builds a scratch database (a SQLite file under /tmp, or the PostgreSQL
    database `kardes_bench_bcast`, created and dropped here), migrated with
    `db.migrate.upgrade`, with N members (no quiet hours) and one announcement scheduled
    with `bot.services.announcements.schedule`; then it reads the sandbox's statistics.

Engine CPU time and peak RSS come from os.wait4 on the engine process(es) (killed ones too);
cpu_ms_per_msg divides the CPU of all engine processes by the messages delivered.
achieved_rate = messages delivered / (last send - first send, as the server timed them).
Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "kardes_bench_bcast"
PG_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"
SQLITE_DIR = Path("/tmp/kardes_bench")
FIRST_CHAT = 5_000_000
TEXT = "Merhaba, <b>kardeşler</b>! The community picnic is on Sunday at 12:00 — see you there."


# --- the Bot API server (child process) ----------------------------------------------------

async def serve(recipients: int, rate: float, latency_ms: float = 0.0) -> None:
    from sandbox.server import SandboxServer

    server = SandboxServer(flood_limit=rate)
    server.api_latency = latency_ms / 1000  # each answer this late, as over a real network (bench/notices.py)
    for index in range(recipients):
        server.upsert_user(FIRST_CHAT + index, first_name=f"M{index}", language_code="en")
    await server.start()
    print(f"READY {server.base_url} {server.token}", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin
    await server.stop()


# --- the scratch database ------------------------------------------------------------------

def create_database(kind: str) -> str:
    if kind == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_NAME}")
        return PG_URL
    SQLITE_DIR.mkdir(parents=True, exist_ok=True)
    path = SQLITE_DIR / f"broadcast-{os.getpid()}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite+aiosqlite:///{path}"


def drop_database(kind: str, url: str) -> None:
    if kind == "postgres":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
        return
    path = url.split(":///", 1)[1]
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def populate(url: str, recipients: int) -> int:
    """N registered members without quiet hours, and one announcement to everyone; its id."""
    from bot.services.announcements import Draft, schedule
    from db.models import Member
    from db.session import create_engine, create_session_factory
    from db.types import utcnow

    engine = create_engine(url)
    try:
        now = utcnow()
        rows = [
            {"telegram_id": FIRST_CHAT + index, "locale": "en", "display_name": f"M{index}", "is_active": True,
             "registered_at": now, "notify_announcements": True, "quiet_start": None, "quiet_end": None,
             "timezone": "Europe/Berlin", "country_code": "DE"}
            for index in range(recipients)
        ]
        async with engine.begin() as conn:
            for start in range(0, len(rows), 5000):  # explicit NULLs: a Core insert keeps them
                await conn.execute(Member.__table__.insert(), rows[start:start + 5000])
        async with create_session_factory(engine)() as session:
            announcement = await schedule(session, Draft(texts={"en": TEXT}, audience={}), None)
            await session.commit()
            return announcement.id
    finally:
        await engine.dispose()


async def database_figures(url: str, announcement_id: int) -> dict:
    from sqlalchemy import func, select

    from db.models import Announcement, Delivery
    from db.session import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            statuses = dict((await conn.execute(
                select(Delivery.status, func.count()).where(Delivery.announcement_id == announcement_id).group_by(Delivery.status)
            )).all())
            status = await conn.scalar(select(Announcement.status).where(Announcement.id == announcement_id))
        return {"deliveries": statuses, "announcement_status": status}
    finally:
        await engine.dispose()


# --- the engine (child processes) ------------------------------------------------------------

def run_engine(args: list[str], kill_after: float | None) -> dict:
    """Run one engine process to its end (or SIGKILL it after `kill_after` s); its figures."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, str(ROOT / "bench" / "broadcast_engine.py"), *args],
                               env=env, stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    killed = False
    if kill_after is not None:
        deadline = started + kill_after
        while time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.01)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            killed = True
    if process.returncode is None:
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        cpu, rss = usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
    else:  # reaped by poll(): take the child's own account
        cpu = rss = None
    output = process.stdout.read() if process.stdout else ""
    figures: dict = {}
    for line in output.splitlines():
        if line.startswith("{"):
            figures.update(json.loads(line))
    if cpu is None:
        cpu, rss = figures.get("cpu_s", 0.0), figures.get("maxrss_mb", 0.0)
    if process.returncode != 0 and not killed:
        raise SystemExit(f"engine process failed with {process.returncode}")
    return {**figures, "killed": killed, "cpu_s": cpu, "maxrss_mb": rss, "wall_s": time.monotonic() - started}


# --- the benchmark ---------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=20000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--paid", action="store_true", help="allow_paid_broadcast (rate up to 1000/s)")
    parser.add_argument("--kill-after", type=float, default=None, help="SIGKILL the engine after S s, then resume")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--timeline", action="store_true", help="add the sends per 100 ms to the JSON")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--api-latency-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.serve:
        asyncio.run(serve(options.recipients, options.rate, options.api_latency_ms))
        return
    if options.rate > 30 and not options.paid:
        print("note: more than 30/s needs --paid on the real Bot API", file=sys.stderr)

    from db.migrate import upgrade
    from jobs.delivery import window_for

    url = create_database(options.db)
    server = None
    server_cpu = None
    try:
        upgrade(url)
        announcement_id = asyncio.run(populate(url, options.recipients))
        server = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", "--recipients", str(options.recipients),
             "--rate", str(options.rate)],
            env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        ready = server.stdout.readline().split() if server.stdout else []
        if not ready or ready[0] != "READY":
            raise SystemExit("the Bot API server did not start")
        base_url, token = ready[1], ready[2]
        engine_args = [url, base_url, token, str(announcement_id), str(options.rate), "1" if options.paid else "0"]
        started = time.monotonic()
        runs = [run_engine(engine_args, options.kill_after)]
        if options.kill_after is not None:
            runs.append(run_engine(engine_args, None))  # the restart resumes from the table
        wall = time.monotonic() - started
        with urllib.request.urlopen(f"{base_url}/sandbox/stats", timeout=120) as response:
            stats = json.loads(response.read())
        db_figures = asyncio.run(database_figures(url, announcement_id))
    finally:
        if server is not None:
            if server.stdin:
                server.stdin.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pid, status, usage = os.wait4(server.pid, os.WNOHANG)
                if pid:
                    server.returncode = os.waitstatus_to_exitcode(status)
                    server_cpu = usage.ru_utime + usage.ru_stime
                    break
                time.sleep(0.05)
            if server.returncode is None:
                server.kill()
                server.wait()
        drop_database(options.db, url)

    per_chat = stats["per_chat"]
    times = sorted(t for chat in per_chat.values() for t in chat["times"])
    sends = {int(chat_id): chat["sends"] for chat_id, chat in per_chat.items()}
    lost = sum(1 for index in range(options.recipients) if sends.get(FIRST_CHAT + index, 0) == 0)
    duplicates = sum(max(0, count - 1) for count in sends.values())
    delivered = options.recipients - lost
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    cpu = sum(run["cpu_s"] for run in runs)
    result = {
        "recipients": options.recipients,
        "rate_limit": options.rate,
        "paid": options.paid,
        "db": options.db,
        "achieved_rate": round(delivered / span, 2) if span else None,
        "achieved_pct": round(100 * delivered / span / options.rate, 2) if span else None,
        "max_in_any_1s_window": stats["max_per_second"],
        "per_chat_violations": stats["per_chat_violations"],
        "http_429": stats["retry_after_429"],
        "lost": lost,
        "duplicates": duplicates,
        "window": window_for(options.rate),
        "cpu_ms_per_msg": round(1000 * cpu / max(1, stats["sent_messages"]), 3),
        "peak_rss_mb": round(max(run["maxrss_mb"] for run in runs), 1),
        "sent_messages": stats["sent_messages"],
        "send_span_s": round(span, 3),
        "wall_s": round(wall, 2),
        "server_cpu_s": round(server_cpu, 2) if server_cpu is not None else None,
        "engine_runs": [{key: (round(value, 3) if isinstance(value, float) else value) for key, value in run.items()}
                        for run in runs],
        "db_after": db_figures,
    }
    if options.timeline and times:
        buckets = [0] * (int((times[-1] - times[0]) * 10) + 1)
        for t in times:
            buckets[int((t - times[0]) * 10)] += 1
        result["sends_per_100ms"] = buckets
    print(json.dumps(result))


if __name__ == "__main__":
    main()
