"""Benchmark: the news of one event to N members through the one sender (jobs/notices.py), at rate R.

    .venv/bin/python bench/notices.py --recipients 5000 --rate 1000
    .venv/bin/python bench/notices.py --recipients 5000 --rate 1000 --before /work/main
    .venv/bin/python bench/notices.py --recipients 1000 --rate 30 --api-latency-ms 50 --before /work/main
    .venv/bin/python bench/notices.py --recipients 3000 --rate 30 --db postgres

The N notices are queued rows (`notices`, kind event_news, rendered when sent in each member's
language), as an approval leaves them; a sender process runs one round of the worker's notices job
(`jobs.notices.send_round`, through `gate_for(bot, BROADCAST_RATE)`) until the queue is empty.
The Bot API server is the sandbox in a child process of its own (bench/broadcast.py's `serve`,
answering 429 beyond R messages in a sliding second), so its CPU is not counted.

With `--before DIR` the same round is run first by the code in DIR (a checkout of an older
version, e.g. /work/main), on a fresh queue, and both results go into the one JSON line, with the
ratio of their rates. notices_per_s = notices delivered / (last send - first send, as the server
timed them); cpu_ms_per_notice is the sender's CPU during the round (start-up excluded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CODE = Path(os.environ.get("BENCH_CODE") or ROOT)  # whose sender a --send child runs
sys.path.insert(0, str(CODE))


# --- the sender (child process) --------------------------------------------------------------

async def send(url: str, base_url: str, token: str, rate: float) -> None:
    from bot.app import create_bot
    from bot.config import load_settings
    from bot.i18n import create_i18n
    from db.session import create_engine, create_session_factory
    from jobs.context import JobContext
    from jobs.notices import send_round

    settings = load_settings(database_url=url, telegram_api_base=base_url, bot_token=token, broadcast_rate=rate)
    engine = create_engine(settings.database_url)
    bot = create_bot(settings)
    try:
        context = JobContext(settings, create_session_factory(engine), bot, create_i18n())
        cpu, wall, rounds, sent = time.process_time(), time.monotonic(), 0, 0
        while True:  # a round stops at flood control; the worker's tick would start the next one
            done = await send_round(context)
            rounds, sent = rounds + 1, sent + done.total
            if not done.paused or rounds > 100:
                break
        print(json.dumps({"round_cpu_s": time.process_time() - cpu, "round_wall_s": time.monotonic() - wall,
                          "rounds": rounds, "sent_by_rounds": sent}), flush=True)
    finally:
        await bot.session.close()
        await engine.dispose()


# --- the queue -------------------------------------------------------------------------------

async def populate(url: str, recipients: int, first_chat: int) -> None:
    """N registered members following an organisation, its approved event, and the news of it queued to each."""
    from datetime import timedelta

    from db.models import DeliveryStatus, Event, EventStatus, Member, Notice, NoticeKind, Organisation
    from db.session import create_engine, create_session_factory
    from db.types import utcnow

    engine = create_engine(url)
    try:
        now = utcnow()
        async with create_session_factory(engine)() as session:
            org = Organisation(name="Qazaq Üyi", category="cultural_centre", latitude=52.52, longitude=13.40, city="Berlin",
                               country_code="DE")
            session.add(org)
            await session.flush()
            event = Event(organisation_id=org.id, title="Nauryz concert", starts_at=now + timedelta(days=10),
                          timezone="Europe/Berlin", latitude=52.52, longitude=13.40, status=EventStatus.APPROVED.value,
                          news_sent_at=now, category="culture")
            session.add(event)
            await session.commit()
            event_id = event.id
        locales = ("tr", "kk", "ru", "en", "az", "uz", "ky", "tk")
        members = [
            {"telegram_id": first_chat + index, "locale": locales[index % len(locales)], "display_name": f"M{index}",
             "is_active": True, "registered_at": now, "quiet_start": None, "quiet_end": None, "timezone": "Europe/Berlin",
             "country_code": "DE"}
            for index in range(recipients)
        ]
        async with engine.begin() as conn:
            await conn.execute(Notice.__table__.delete())
            await conn.execute(Member.__table__.delete())
            for start in range(0, recipients, 5000):
                await conn.execute(Member.__table__.insert(), members[start:start + 5000])
            ids = dict((await conn.execute(Member.__table__.select().with_only_columns(
                Member.telegram_id, Member.id))).all())
            rows = [{"kind": NoticeKind.EVENT_NEWS.value, "event_id": event_id, "member_id": ids[first_chat + index],
                     "chat_id": first_chat + index, "subject": f"event:{event_id}", "status": DeliveryStatus.PENDING.value,
                     "attempts": 0, "not_before": None, "created_at": now}
                    for index in range(recipients)]
            for start in range(0, recipients, 5000):
                await conn.execute(Notice.__table__.insert(), rows[start:start + 5000])
    finally:
        await engine.dispose()


async def queue_figures(url: str) -> dict:  # type: ignore[type-arg]
    from sqlalchemy import func, select

    from db.models import Notice
    from db.session import create_engine

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return dict((await conn.execute(select(Notice.status, func.count()).group_by(Notice.status))).all())
    finally:
        await engine.dispose()


# --- one run ---------------------------------------------------------------------------------

def run(code: Path, url: str, recipients: int, rate: float, latency_ms: float) -> dict:  # type: ignore[type-arg]
    import broadcast

    asyncio.run(populate(url, recipients, broadcast.FIRST_CHAT))
    env = {**os.environ, "PYTHONPATH": str(code)}
    server = subprocess.Popen([sys.executable, str(ROOT / "bench" / "broadcast.py"), "--serve", "--recipients", str(recipients),
                               "--rate", str(rate), "--api-latency-ms", str(latency_ms)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        ready = server.stdout.readline().split() if server.stdout else []
        if not ready or ready[0] != "READY":
            raise SystemExit("the Bot API server did not start")
        base_url, token = ready[1], ready[2]
        started = time.monotonic()
        sender = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--send", url, base_url, token, str(rate)],
                                env={**env, "BENCH_CODE": str(code)}, stdout=subprocess.PIPE, text=True, check=True)
        wall = time.monotonic() - started
        with urllib.request.urlopen(f"{base_url}/sandbox/stats", timeout=120) as response:
            stats = json.loads(response.read())
    finally:
        if server.stdin:
            server.stdin.close()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    figures = json.loads([line for line in sender.stdout.splitlines() if line.startswith("{")][-1])
    times = sorted(t for chat in stats["per_chat"].values() for t in chat["times"])
    sends = {int(chat_id): chat["sends"] for chat_id, chat in stats["per_chat"].items()}
    lost = sum(1 for index in range(recipients) if sends.get(broadcast.FIRST_CHAT + index, 0) == 0)
    span = (times[-1] - times[0]) if len(times) > 1 else 0.0
    delivered = recipients - lost
    return {
        "code": str(code),
        "notices_per_s": round(delivered / span, 1) if span else None,
        "pct_of_rate": round(100 * delivered / span / rate, 1) if span else None,
        "max_in_any_1s_window": stats["max_per_second"],
        "per_chat_violations": stats["per_chat_violations"],
        "http_429": stats["retry_after_429"],
        "lost": lost,
        "duplicates": sum(max(0, count - 1) for count in sends.values()),
        "cpu_ms_per_notice": round(1000 * figures["round_cpu_s"] / max(1, delivered), 3),
        "send_span_s": round(span, 2),
        "round_wall_s": round(figures["round_wall_s"], 2),
        "rounds": figures["rounds"],
        "process_wall_s": round(wall, 2),
        "queue_after": asyncio.run(queue_figures(url)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=1000.0, help="BROADCAST_RATE, and the server's 429 limit")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--api-latency-ms", type=float, default=0.0, help="the server answers this late, as over a real network")
    parser.add_argument("--before", type=Path, default=None, help="a checkout whose sender runs first, for the ratio")
    parser.add_argument("--send", nargs=4, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.send:
        url, base_url, token, rate = options.send
        asyncio.run(send(url, base_url, token, float(rate)))
        return
    sys.path.insert(0, str(ROOT / "bench"))
    import broadcast
    from db.migrate import upgrade

    url = broadcast.create_database(options.db)
    try:
        upgrade(url)
        result: dict = {"recipients": options.recipients, "rate_limit": options.rate, "db": options.db,  # type: ignore[type-arg]
                        "api_latency_ms": options.api_latency_ms}
        if options.before is not None:
            result["before"] = run(options.before.resolve(), url, options.recipients, options.rate, options.api_latency_ms)
        result["after"] = run(ROOT, url, options.recipients, options.rate, options.api_latency_ms)
        if options.before is not None and result["before"]["notices_per_s"] and result["after"]["notices_per_s"]:
            result["ratio"] = round(result["after"]["notices_per_s"] / result["before"]["notices_per_s"], 2)
    finally:
        broadcast.drop_database(options.db, url)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
