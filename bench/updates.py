"""Benchmark: the real bot under a crowd of updates, against a bare aiogram bot in the same run.

    .venv/bin/python bench/updates.py --db sqlite --updates 3000 --rate 0                 # a backlog: throughput
    .venv/bin/python bench/updates.py --db sqlite --updates 3000 --rate 150 --api-latency-ms 50
    .venv/bin/python bench/updates.py --db postgresql --updates 3000 --rate 0
    .venv/bin/python bench/updates.py --updates 3000 --rate 0 --mix help --sigterm-after 3
    .venv/bin/python bench/updates.py --updates 3000 --rate 0 --mix help --sigkill-after 3
    .venv/bin/python bench/updates.py --db postgresql --redis redis://127.0.0.1:6379/9 --processes 2 --rate 0

Pieces:
  * a Bot API stand-in (this process, aiohttp): it hands out N updates through getUpdates (or,
    with --processes P, POSTs them to a webhook shared by P processes on one port), every answer
    L ms late (--api-latency-ms), and times each chat's first reply. Each update comes from its
    own chat, so "first reply in the chat" is the reply to that update. The updates are a mix
    (--mix mixed): /start from new users, /help and /nearby from registered members (their rows
    are inserted beforehand, with a location), and language button presses from registered
    members (a callback on a message carrying that button); or only /help (--mix help).
    --rate R offers R updates a second; 0 offers all of them at once (a backlog).
  * the real bot: `kardes run` (polling + worker) as a subprocess on a scratch database
    (a SQLite file under /tmp, or the PostgreSQL database kardes_bench_updates, recreated);
    webhook mode: P x `kardes run --mode webhook --no-worker` and one `kardes worker`.
  * the bare bot: aiogram's own start_polling, one answer per message or button, no database,
    run against the same stand-in with the same updates, right after.

Figures per bot: updates_per_s (the steady part: 10th to 90th percentile of completions),
p50/p99 latency (ms, from the moment an update is available to its first reply), the longest
silence (the longest gap between two replies while updates were waiting), CPU ms per update
(the bot process(es) between the first offer and the last reply), peak RSS (MB), lost (never
answered), duplicates (chats answered twice; with --mix help each update gets one message),
statements_per_update (SQL statements the bot's processes sent during the run, per update),
standin_cpu_ms_per_update / servers_cpu_ms_per_update (the rest of the machine's work: this
process, and every PostgreSQL and Redis server process), and worker_job_after_burst: once half
the burst is answered, an operator schedules an urgent announcement (`kardes announce`) to three
members no update comes from; delivered (of 3) and how long after scheduling / after the burst's
last answer the last copy arrived.
With --sigterm-after/--sigkill-after S the real bot is stopped S seconds into the burst and
started again; stop_seconds is how long the SIGTERM stop took. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "kardes_bench_updates"
SQLITE_DIR = Path("/tmp/kardes_bench")
TOKEN = "123456:BENCH"
BOT_USER = {"id": 123456, "is_bot": True, "first_name": "Bench", "username": "bench_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
LOCALES = ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en")
FIRST_NEW_USER = 20_000_000
FIRST_MEMBER = 30_000_000
# Members no update comes from: the audience of an announcement scheduled in the middle of the
# burst, to see that the worker's jobs still run (their city is theirs alone: Reykjavík).
JOB_MEMBERS = tuple(range(40_000_000, 40_000_003))
JOB_CITY = 3413829
JOB_TEXT = "Bench: the worker still delivers"
SECRET = "bench-secret"


try:
    from orjson import dumps as _dumps, loads as _loads
except ImportError:  # the standard library, slower
    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    _loads = json.loads
OK_TRUE = b'{"ok":true,"result":true}'
HOOK_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}


# --- the workload ------------------------------------------------------------------------------

def make_updates(count: int, mix: str, seed: int = 7) -> tuple[list[dict[str, Any]], int]:
    """N updates, each from its own chat; returns them and how many registered members they need."""
    rng = random.Random(seed)
    updates: list[dict[str, Any]] = []
    members = 0
    now = int(time.time())
    for index in range(count):
        kind = ("start", "help", "nearby", "button")[index % 4] if mix == "mixed" else mix
        if kind == "start":
            user_id = FIRST_NEW_USER + index
        else:
            user_id = FIRST_MEMBER + members
            members += 1
        user = {"id": user_id, "is_bot": False, "first_name": f"U{index}", "language_code": rng.choice(LOCALES)}
        chat = {"id": user_id, "type": "private", "first_name": f"U{index}"}
        update_id = 1000 + index
        if kind == "button":
            code = rng.choice(LOCALES)
            message = {"message_id": 1, "date": now, "chat": chat, "from": BOT_USER, "text": "Choose your language:",
                       "reply_markup": {"inline_keyboard": [[{"text": code, "callback_data": f"lang:{code}"}]]}}
            updates.append({"update_id": update_id, "callback_query": {
                "id": str(update_id), "from": user, "chat_instance": str(user_id), "data": f"lang:{code}",
                "message": message}})
            continue
        text = {"start": "/start", "help": "/help", "nearby": "/nearby"}[kind]
        updates.append({"update_id": update_id, "message": {
            "message_id": 2, "date": now, "chat": chat, "from": user, "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}]}})
    return updates, members


def create_database(kind: str, members: int) -> str:
    from sqlalchemy import create_engine, insert

    from db.migrate import upgrade
    from db.models import Member
    from db.session import sync_url

    if kind == "postgresql":
        import psycopg

        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {PG_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {PG_NAME}")
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"
    else:
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        path = SQLITE_DIR / f"updates-{os.getpid()}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    engine = create_engine(sync_url(url))
    from db.types import utcnow

    rows = [{"telegram_id": FIRST_MEMBER + i, "locale": LOCALES[i % 8], "display_name": f"M{i}", "is_active": True,
             "registered_at": utcnow(), "city_id": 2950159, "city_name": "Berlin", "country_code": "DE",
             "latitude": 52.52, "longitude": 13.41, "timezone": "Europe/Berlin", "languages": ["tr"], "interests": [],
             "radius_km": 25, "quiet_start": None, "quiet_end": None} for i in range(members)]
    rows += [{"telegram_id": telegram_id, "locale": "en", "display_name": "Job", "is_active": True,
              "registered_at": utcnow(), "city_id": JOB_CITY, "city_name": "Reykjavík", "country_code": "IS",
              "latitude": 64.14, "longitude": -21.94, "timezone": "Atlantic/Reykjavik", "languages": [], "interests": [],
              "radius_km": 25, "quiet_start": None, "quiet_end": None} for telegram_id in JOB_MEMBERS]
    with engine.begin() as conn:
        for start in range(0, len(rows), 2000):
            conn.execute(insert(Member.__table__), rows[start:start + 2000])
    engine.dispose()
    return url


# --- the Bot API stand-in ----------------------------------------------------------------------

class StandIn:
    """Just enough of the Bot API for both bots, timing each chat's first reply."""

    def __init__(self, updates: list[dict[str, Any]], rate: float, latency: float) -> None:
        self.all = updates
        self.rate = rate
        self.latency = latency
        self.available: list[dict[str, Any]] = []  # offered, not confirmed
        self.offered_at: dict[int, float] = {}
        self.chat_of = {u["update_id"]: _chat_of(u) for u in updates}
        self.encoded = {u["update_id"]: _dumps(u) for u in updates}
        self.callback_chat = {u["callback_query"]["id"]: _chat_of(u) for u in updates if "callback_query" in u}
        self.first_reply: dict[int, float] = {}
        self.job_delivered: dict[int, float] = {}
        self.webhooks_set = 0
        self.hooks: list[str] = []  # where the webhook processes listen
        self.web_processes = 1  # webhook mode: ready once each of them has set the webhook
        self.replies: dict[int, int] = {}
        self.reply_times: list[float] = []
        self.polling = asyncio.Event()
        self.arrived = asyncio.Event()
        self.message_ids = 100
        self.webhook: str | None = None
        self.t0 = 0.0

    async def offer(self) -> None:
        """Make the updates available at the offered rate (all at once for rate 0)."""
        self.t0 = time.monotonic()
        for index, update in enumerate(self.all):
            if self.rate > 0:
                due = self.t0 + index / self.rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            self.offered_at[update["update_id"]] = time.monotonic()
            self.available.append(update)
            if self.rate > 0 or index == len(self.all) - 1:
                self.arrived.set()

    def answered(self) -> int:
        return len(self.first_reply)

    def _reply(self, chat_id: int | None) -> None:
        if chat_id is None:
            return
        now = time.monotonic()
        if chat_id in JOB_MEMBERS:  # the worker's announcement, not an answer
            self.job_delivered.setdefault(chat_id, now)
            return
        self.reply_times.append(now)
        self.replies[chat_id] = self.replies.get(chat_id, 0) + 1
        self.first_reply.setdefault(chat_id, now)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"].lower()
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(_loads(await request.read()))
            else:
                params.update(await request.post())
        if self.latency and method != "getupdates":
            await asyncio.sleep(self.latency)
        if method == "getupdates":
            # Each update was encoded once, up front: the stand-in should cost the machine little.
            batch = await self._get_updates(params)
            body = b'{"ok":true,"result":[' + b",".join(self.encoded[u["update_id"]] for u in batch) + b"]}"
            return web.Response(body=body, content_type="application/json")
        result: Any = True
        if method == "getme":
            result = BOT_USER
        elif method == "answercallbackquery":
            self._reply(self.callback_chat.get(str(params.get("callback_query_id"))))
        elif method.startswith(("send", "edit")) and method != "sendchataction":
            chat_id = int(params["chat_id"]) if "chat_id" in params else None
            self._reply(chat_id)
            self.message_ids += 1
            result = {"message_id": self.message_ids if method.startswith("send") else int(params.get("message_id", 1)),
                      "date": int(time.time()), "chat": {"id": chat_id or 0, "type": "private"}, "from": BOT_USER,
                      "text": str(params.get("text", ""))}
        elif method in ("getmycommands",):
            result = []
        elif method == "getwebhookinfo":
            result = {"url": self.webhook or "", "has_custom_certificate": False, "pending_update_count": 0}
        elif method == "setwebhook":
            self.webhook = str(params.get("url"))
            self.webhooks_set += 1
            if self.webhooks_set >= self.web_processes:
                self.polling.set()
        if result is True:
            return web.Response(body=OK_TRUE, content_type="application/json")
        return web.Response(body=_dumps({"ok": True, "result": result}), content_type="application/json")

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        self.polling.set()
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if offset:
            self.available = [u for u in self.available if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while not self.available and time.monotonic() < deadline:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), deadline - time.monotonic())
            except asyncio.TimeoutError:
                break
        if self.latency:
            await asyncio.sleep(self.latency)
        return self.available[:limit]

    async def push(self, concurrency: int) -> None:
        """Webhook mode: POST every update until the webhook answers 200 (503: try again)."""
        assert self.webhook is not None
        pending: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        sent: set[int] = set()

        async def feeder() -> None:
            while len(sent) < len(self.all):
                for update in self.available:
                    if update["update_id"] not in sent:
                        sent.add(update["update_id"])
                        await pending.put(update)
                self.arrived.clear()
                if len(sent) < len(self.all):
                    await self.arrived.wait()

        async def poster(index: int) -> None:
            # One keep-alive connection per poster, as Telegram holds up to max_connections: the
            # kernel spreads connections over the processes sharing the port (a shared pool would
            # hand the next request to whichever connection came back first).
            # With --balance each process has a port of its own and the posters take turns (a
            # round-robin balancer, as a proxy in front of the web processes would be).
            hook = self.hooks[index % len(self.hooks)]
            async with ClientSession(connector=TCPConnector(limit=1), timeout=ClientTimeout(total=60)) as http:
                await post_all(http, hook)

        async def post_all(http: ClientSession, hook: str) -> None:
            while True:
                update = await pending.get()
                while True:
                    try:
                        async with http.post(hook, data=self.encoded[update["update_id"]],
                                             headers=HOOK_HEADERS) as response:
                            if response.status == 200:
                                break
                    except Exception:
                        pass
                    await asyncio.sleep(0.05)

        tasks = [asyncio.create_task(poster(index)) for index in range(concurrency)]
        await feeder()
        while self.answered() < len(self.all):
            await asyncio.sleep(0.1)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _chat_of(update: dict[str, Any]) -> int:
    body = update.get("message") or update.get("callback_query")
    return int(body["from"]["id"])  # type: ignore[index]


# --- processes ---------------------------------------------------------------------------------

def _bot_env(url: str, api_base: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WEBHOOK_URL", "REDIS_URL", "HTTP_PORT")}
    env.update({"PYTHONPATH": str(ROOT), "DATABASE_URL": url, "BOT_TOKEN": TOKEN, "TELEGRAM_API_BASE": api_base,
                "LOG_LEVEL": "WARNING", **extra})
    return env


def start_real(url: str, api_base: str, extra: dict[str, str], args: list[str]) -> subprocess.Popen[bytes]:
    # The bot's own log (warnings and errors) goes to a file beside the database, for a failed run.
    log = (SQLITE_DIR / f"bot-{os.getpid()}-{args[0]}.log").open("ab")
    stats = SQLITE_DIR / f"stats-{os.getpid()}-{len(_stats_files)}.json"  # statements sent, at exit
    stats.unlink(missing_ok=True)
    _stats_files.append(stats)
    return subprocess.Popen([sys.executable, __file__, "--run-bot", str(stats), *args], cwd=SQLITE_DIR,
                            env=_bot_env(url, api_base, extra), stdout=subprocess.DEVNULL, stderr=log)


_stats_files: list[Path] = []


def run_bot(stats: str, argv: list[str]) -> int:
    """`kardes ARGS` in this process, counting the SQL statements it sends (written to `stats` at exit)."""
    import atexit

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from bot.cli import main as kardes

    import gc

    counts = {"statements": 0, "at_offer": 0, "gc_ms": 0.0, "gc_full": 0, "gc_ms_at_offer": 0.0, "gc_full_at_offer": 0}
    started = [0.0]

    def timed(phase: str, info: dict[str, Any]) -> None:  # the collector's pauses
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            counts["gc_ms"] += (time.perf_counter() - started[0]) * 1000
            counts["gc_full"] += info.get("generation") == 2

    gc.callbacks.append(timed)

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        counts["statements"] += 1

    def offered(*_args: Any) -> None:  # SIGUSR1: the burst begins; what came before is start-up
        counts["at_offer"] = counts["statements"]
        counts["gc_ms_at_offer"], counts["gc_full_at_offer"] = counts["gc_ms"], counts["gc_full"]

    signal.signal(signal.SIGUSR1, offered)
    atexit.register(lambda: Path(stats).write_text(json.dumps(counts)))
    return kardes(argv)


def statements(files: list[Path]) -> int | None:
    """SQL statements the real bot's processes sent from the first offer on (None when one did not say)."""
    total = 0
    for path in files:
        try:
            counts = json.loads(path.read_text())
            total += counts["statements"] - counts["at_offer"]
        except (OSError, ValueError, KeyError):
            return None
    return total


def start_bare(api_base: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, __file__, "--bare-bot", api_base], env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def bare_bot(api_base: str) -> None:
    """A minimal aiogram bot: one answer per message or button press, nothing else."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.types import CallbackQuery, Message

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_base)))
    dp = Dispatcher()

    @dp.message()
    async def answer(message: Message) -> None:
        await message.answer("ok")

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        await query.answer("ok")

    await dp.start_polling(bot, handle_signals=True)


async def announce(url: str, api_base: str) -> float:
    """`kardes announce` (urgent, to the job members' city) as an operator would, mid-burst; when it was stored."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "announce", "--text", JOB_TEXT, "--urgent", "--audience", f"cities={JOB_CITY}",
        cwd=SQLITE_DIR, env=_bot_env(url, api_base, {}), stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    await process.wait()
    return time.monotonic()


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds() -> float:
    """CPU seconds of every PostgreSQL and Redis server process on the machine."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() in ("postgres", "redis-server"):
                total += cpu_seconds(int(entry.name))
        except OSError:
            continue
    return total


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


async def run_one(label: str, updates: list[dict[str, Any]], args: argparse.Namespace, url: str | None) -> dict[str, Any]:
    stand_in = StandIn(updates, args.rate, args.api_latency_ms / 1000)
    stand_in.web_processes = args.processes
    app = web.Application()
    app.router.add_route("*", "/bot{token}/{method}", stand_in.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    api_base = f"http://127.0.0.1:{port}"
    processes: list[subprocess.Popen[bytes]] = []
    first_stats = len(_stats_files)
    extra = {"MAX_UPDATES_IN_FLIGHT": str(args.in_flight), "SHUTDOWN_GRACE_SECONDS": str(args.grace)}
    webhook = args.processes > 1 or args.webhook
    if args.redis:
        extra["REDIS_URL"] = args.redis
    hook_port = 0
    if label == "bare":
        processes.append(start_bare(api_base))
    elif webhook:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            hook_port = probe.getsockname()[1]
        ports = [hook_port]
        for _ in range(args.processes - 1 if args.balance else 0):  # a port each, behind our balancer
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                ports.append(probe.getsockname()[1])
        stand_in.hooks = [f"http://127.0.0.1:{port}/hook" for port in ports]
        for index in range(args.processes):
            port = ports[index % len(ports)]
            hook = {"WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "WEBHOOK_SECRET": SECRET,
                    "WEBHOOK_HOST": "127.0.0.1", "WEBHOOK_PORT": str(port)}
            processes.append(start_real(url, api_base, {**extra, **hook}, ["run", "--mode", "webhook", "--no-worker"]))  # type: ignore[arg-type]
        processes.append(start_real(url, api_base, extra, ["worker"]))  # type: ignore[arg-type]
    else:
        processes.append(start_real(url, api_base, extra, ["run"]))  # type: ignore[arg-type]
    await asyncio.wait_for(stand_in.polling.wait(), 120)
    if webhook and label != "bare":
        # Every process has set the webhook; it listens right after. Connections are kept alive, so
        # one opened before a process listens would stay with another for the whole run.
        await asyncio.sleep(2.0)
    cpu_before = sum(cpu_seconds(p.pid) for p in processes)
    each_before = [cpu_seconds(p.pid) for p in processes]
    own_before, servers_before = time.process_time(), server_cpu_seconds()
    if label != "bare":
        for process in processes:
            process.send_signal(signal.SIGUSR1)
    spy = None
    if args.py_spy and label != "bare":  # profile the real bot during the burst (collapsed stacks)
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(processes[0].pid),
                                "-o", args.py_spy, "-f", "raw", "-r", "200", "--nonblocking",
                                *args.py_spy_args.split()],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop_seconds = None
    restarted: list[subprocess.Popen[bytes]] = []
    offering = asyncio.create_task(stand_in.offer())
    # As Telegram does: at most max_connections (set by setWebhook to the bound of one process) at once.
    pushing = asyncio.create_task(stand_in.push(args.in_flight)) if webhook and label != "bare" else None
    deadline = time.monotonic() + args.timeout
    kill_after = args.sigterm_after or args.sigkill_after
    cpu_extra = 0.0
    announcing: asyncio.Task[Any] | None = None
    while stand_in.answered() < len(updates) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        if label != "bare" and announcing is None and stand_in.answered() >= len(updates) // 2:
            announcing = asyncio.create_task(announce(url, api_base))  # type: ignore[arg-type]
        if label != "bare" and kill_after and not restarted and time.monotonic() - stand_in.t0 >= kill_after:
            victim = processes[0]
            cpu_extra = cpu_seconds(victim.pid)
            began = time.monotonic()
            victim.send_signal(signal.SIGTERM if args.sigterm_after else signal.SIGKILL)
            await asyncio.to_thread(victim.wait)
            stop_seconds = round(time.monotonic() - began, 2)
            restarted.append(start_real(url, api_base, extra, ["run"]))  # type: ignore[arg-type]
            processes[0] = restarted[0]
    await offering
    done_at = max(stand_in.first_reply.values()) if stand_in.first_reply else time.monotonic()
    cpu = sum(cpu_seconds(p.pid) for p in processes) + cpu_extra - cpu_before
    each = [cpu_seconds(p.pid) - before for p, before in zip(processes, each_before)] if not restarted else []
    own_cpu, servers_cpu = time.process_time() - own_before, server_cpu_seconds() - servers_before
    rss = max(peak_rss_mb(p.pid) for p in processes)
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        await asyncio.to_thread(spy.wait)
    await asyncio.sleep(0.5)  # late duplicates
    jobs = None
    if announcing is not None:
        scheduled_at = await announcing
        wait_until = time.monotonic() + 30
        while len(stand_in.job_delivered) < len(JOB_MEMBERS) and time.monotonic() < wait_until:
            await asyncio.sleep(0.1)
        delivered = sorted(stand_in.job_delivered.values())
        jobs = {"delivered": len(delivered), "of": len(JOB_MEMBERS),
                "seconds_after_scheduling": round(delivered[-1] - scheduled_at, 2) if delivered else None,
                "seconds_after_burst": round(delivered[-1] - done_at, 2) if delivered else None}
    if pushing is not None:
        pushing.cancel()
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            await asyncio.to_thread(process.wait, 20)
        except subprocess.TimeoutExpired:
            process.kill()
    await runner.cleanup()

    latencies = sorted((stand_in.first_reply[stand_in.chat_of[uid]] - t) * 1000
                       for uid, t in stand_in.offered_at.items() if stand_in.chat_of[uid] in stand_in.first_reply)
    completions = sorted(stand_in.first_reply.values())
    n = len(completions)
    steady = None
    if n >= 10:
        lo, hi = completions[n // 10], completions[(9 * n) // 10]
        steady = round((0.8 * n) / (hi - lo), 1) if hi > lo else None
    gaps = [b - a for a, b in zip(stand_in.reply_times, stand_in.reply_times[1:]) if a <= done_at]
    first_gap = (stand_in.reply_times[0] - stand_in.t0) if stand_in.reply_times else 0.0
    result: dict[str, Any] = {
        "updates_per_s": steady,
        "p50_ms": round(latencies[len(latencies) // 2], 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99)], 1) if latencies else None,
        "longest_silence_s": round(max(gaps + [first_gap]), 2),
        "cpu_ms_per_update": round(cpu * 1000 / max(n, 1), 2),
        "peak_rss_mb": round(rss, 1),
        "cpu_ms_per_update_by_process": [round(c * 1000 / max(n, 1), 2) for c in each] if len(each) > 1 else None,
        # The rest of the machine's work for this bot: the stand-in and load generator (this
        # process), and the PostgreSQL and Redis servers (all their processes, other users included).
        "standin_cpu_ms_per_update": round(own_cpu * 1000 / max(n, 1), 2),
        "servers_cpu_ms_per_update": round(servers_cpu * 1000 / max(n, 1), 2),
        "lost": len(updates) - n,
        "duplicates": sum(1 for count in stand_in.replies.values() if count > 1) if args.mix == "help" else None,
    }
    if label != "bare":
        result["worker_job_after_burst"] = jobs
        sent = statements(_stats_files[first_stats:])
        result["statements_per_update"] = round(sent / max(n, 1), 2) if sent is not None else None
    if stop_seconds is not None:
        result["stop_seconds"] = stop_seconds
    return result


async def main(args: argparse.Namespace) -> None:
    updates, members = make_updates(args.updates, args.mix)
    url = await asyncio.to_thread(create_database, args.db, members)
    real = await run_one("real", updates, args, url)
    bare = await run_one("bare", updates, args, None) if not args.no_bare else None
    line = {"bench": "updates", "db": args.db, "updates": args.updates, "rate": args.rate,
            "api_latency_ms": args.api_latency_ms, "processes": args.processes, "mix": args.mix,
            "in_flight": args.in_flight, "real": real, "bare": bare}
    if bare and real["updates_per_s"] and bare["updates_per_s"]:
        line["ratio"] = round(real["updates_per_s"] / bare["updates_per_s"], 3)
    if args.sigterm_after:
        line["sigterm_after"] = args.sigterm_after
    if args.sigkill_after:
        line["sigkill_after"] = args.sigkill_after
    print(json.dumps(line), flush=True)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=0.0, help="updates offered per second; 0: all at once")
    parser.add_argument("--api-latency-ms", type=float, default=0.0)
    parser.add_argument("--processes", type=int, default=1, help="web processes in webhook mode (>1 needs PostgreSQL and --redis)")
    parser.add_argument("--webhook", action="store_true", help="webhook mode with one web process")
    parser.add_argument("--balance", action="store_true",
                        help="web processes on a port each, the stand-in sending to them in turn (instead of SO_REUSEPORT)")
    parser.add_argument("--redis", default=None, help="REDIS_URL for the FSM (several web processes)")
    parser.add_argument("--mix", choices=("mixed", "help", "start", "nearby", "button"), default="mixed",
                        help="mixed: a quarter each of /start (newcomers), /help, /nearby and language buttons")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--grace", type=float, default=10.0)
    parser.add_argument("--sigterm-after", type=float, default=None)
    parser.add_argument("--sigkill-after", type=float, default=None)
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument("--no-bare", action="store_true")
    parser.add_argument("--py-spy", default=None, metavar="FILE", help="record the real bot with py-spy (collapsed stacks)")
    parser.add_argument("--py-spy-args", default="", help="more py-spy options, e.g. '--gil' or '--native'")
    parser.add_argument("--bare-bot", default=None, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--run-bot"]:
        sys.exit(run_bot(sys.argv[2], sys.argv[3:]))
    arguments = parse()
    if arguments.bare_bot:
        asyncio.run(bare_bot(arguments.bare_bot))
    else:
        SQLITE_DIR.mkdir(parents=True, exist_ok=True)
        asyncio.run(main(arguments))
