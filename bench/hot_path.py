"""Benchmark: the real dispatcher's CPU per update, in one process, without a network.

    .venv/bin/python bench/hot_path.py --updates 4000                 # CPU ms per update, by kind
    .venv/bin/python bench/hot_path.py --updates 4000 --profile out.pstats

The same updates as bench/updates.py (a quarter each of /start from newcomers, /help, /nearby
from registered members, and language buttons), on a scratch SQLite file with the same members,
fed through the bot's own UpdateFeeder (at most 64 in flight, one at a time per user) to the
dispatcher `bot.app.create_app` builds, on uvloop when installed. The Bot API is answered in the
process: the bot's own session (`bot.api_session.JsonBodySession`) builds each request body and
reads back a Bot API server's answer, but the HTTP round trip is replaced by a canned answer, so
the figures are the bot's own Python work per update, steadier than bench/updates.py's on a
busy machine (no stand-in, no sockets). It does not replace bench/updates.py: aiohttp's client
and the sockets are left out. Prints one JSON line: CPU ms per update over all, and per kind
(each kind run alone after the mix).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.updates import BOT_USER, TOKEN, _dumps, create_database, make_updates  # noqa: E402


def canned_answer(method: str, params: dict[str, Any], counter: list[int]) -> bytes:
    """What a Bot API server answers (the stand-in's answers of bench/updates.py)."""
    if method.startswith(("send", "edit")) and method != "sendchataction":
        counter[0] += 1
        chat_id = int(params.get("chat_id") or 0)
        message_id = counter[0] if method.startswith("send") else int(params.get("message_id", 1))
        return _dumps({"ok": True, "result": {"message_id": message_id, "date": int(time.time()),
                                              "chat": {"id": chat_id, "type": "private"}, "from": BOT_USER,
                                              "text": str(params.get("text", ""))}})
    if method == "getme":
        return _dumps({"ok": True, "result": BOT_USER})
    return b'{"ok":true,"result":true}'


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from bot.api_session import JsonBodySession
    from bot.app import create_app
    from bot.config import Settings
    from bot.runtime import UpdateFeeder
    from aiogram import Bot
    from aiogram.client.default import DefaultBotProperties
    from aiogram.enums import ParseMode

    from bot.transaction import CommitBeforeRequest

    try:
        from orjson import loads
    except ImportError:
        loads = json.loads  # type: ignore[assignment]

    counter = [100]

    class LocalSession(JsonBodySession):
        """The bot's session with the HTTP round trip replaced by a canned answer."""

        async def post_json(self, bot: Bot, method_name: str, body: bytes, timeout: Any) -> tuple[int, str]:
            await asyncio.sleep(0)  # a real request yields to the loop at least once
            return 200, canned_answer(method_name.lower(), loads(body), counter).decode()

    results: dict[str, Any] = {}
    kinds = args.kinds.split(",")
    for kind in kinds:
        updates, members = make_updates(args.updates if kind == "mixed" else args.updates // 2, kind)
        url = await asyncio.to_thread(create_database, "sqlite", members)
        settings = Settings(bot_token=TOKEN, database_url=url, telegram_api_base="http://127.0.0.1:9",
                            log_level="WARNING")
        app = create_app(settings)
        session = LocalSession()
        session.middleware(CommitBeforeRequest())
        bot = Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        await app.dispatcher.emit_startup(bot=bot)
        feeder = UpdateFeeder(bot, app.dispatcher, 64)
        warm, measured = updates[: len(updates) // 10], updates[len(updates) // 10:]
        await _feed(feeder, warm)
        profiler = cProfile.Profile(time.process_time) if args.profile and kind == args.profile_kind else None
        cpu, wall = time.process_time(), time.perf_counter()
        if profiler is not None:
            profiler.enable()
        await _feed(feeder, measured)
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        results[kind] = {"cpu_ms_per_update": round(cpu * 1000 / len(measured), 3),
                         "updates_per_s": round(len(measured) / wall, 1)}
        await app.dispatcher.emit_shutdown(bot=bot)
        await app.close()
        await session.close()
        os.unlink(url.split(":///", 1)[1])
    return results


async def _feed(feeder: Any, updates: list[dict[str, Any]]) -> None:
    for raw in updates:
        while feeder.in_flight >= feeder.limit:
            await feeder.wait_changed()
        feeder.feed(raw)
    await feeder.drain()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=4000)
    parser.add_argument("--profile", default=None, metavar="FILE", help="cProfile the mixed run into FILE")
    parser.add_argument("--profile-kind", default="mixed", choices=("mixed", "help", "start", "nearby", "button"))
    parser.add_argument("--kinds", default="mixed,help,start,nearby,button", help="which runs, comma-separated")
    args = parser.parse_args()
    from bot.cli import event_loop_factory

    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        results = runner.run(run(args))
    print(json.dumps({"bench": "hot_path", "updates": args.updates, **results}), flush=True)


if __name__ == "__main__":
    main()
