"""Child process of bench/broadcast.py: runs the delivery engine for one announcement.

    broadcast_engine.py DATABASE_URL API_BASE TOKEN ANNOUNCEMENT_ID RATE PAID(0|1)

Runs in its own process so the benchmark can SIGKILL it half-way and count its CPU time and
peak RSS alone (the parent reaps it with os.wait4).  Prints one JSON line when it finishes.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import create_bot  # noqa: E402
from bot.config import load_settings  # noqa: E402
from db.session import create_engine, create_session_factory  # noqa: E402
from jobs.delivery import DeliveryEngine  # noqa: E402


async def main(database_url: str, api_base: str, token: str, announcement_id: int, rate: float, paid: bool) -> dict:
    settings = load_settings(database_url=database_url, telegram_api_base=api_base, bot_token=token)
    engine = create_engine(settings.database_url)
    bot = create_bot(settings)
    try:
        delivery = DeliveryEngine(bot, create_session_factory(engine), rate, paid=paid)
        print(json.dumps({"event": "start", "window": delivery.window, "workers": delivery.workers}), flush=True)
        started = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_SELF)
        profile = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        await delivery.run(announcement_id)
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        after = resource.getrusage(resource.RUSAGE_SELF)
        run_cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        run_sys = after.ru_stime - before.ru_stime
        stats = delivery.stats
        return {"event": "done", "sent": stats.sent, "blocked": stats.blocked, "failed": stats.failed,
                "retried": stats.retried, "http_429": stats.http_429, "run_s": round(time.monotonic() - started, 3),
                "run_cpu_s": round(run_cpu, 3),
                "run_sys_s": round(run_sys, 3), "startup_cpu_s": round(before.ru_utime + before.ru_stime, 3)}
    finally:
        await bot.session.close()
        await engine.dispose()


if __name__ == "__main__":
    result = asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6] == "1"))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime, 3)
    result["maxrss_mb"] = round(usage.ru_maxrss / 1024, 1)
    print(json.dumps(result), flush=True)
