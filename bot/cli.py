"""The `kardes` command line: run, db upgrade, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from db.migrate import DatabaseNotReady

log = logging.getLogger("kardes")


def _setup_logging(level: str, logfile: Path | None = None) -> None:
    handler: logging.Handler
    if logfile is not None:
        logfile.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(logfile, encoding="utf-8")
    else:
        handler = logging.StreamHandler()
    logging.basicConfig(level=level, handlers=[handler], format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass


async def serve(settings: Settings, stop: asyncio.Event) -> None:
    """Check the database, then poll or serve the webhook until `stop` is set."""
    from aiohttp import web

    from bot.app import create_app, create_bot
    from bot.commands import register_commands
    from bot.runtime import create_webhook_app, run_polling, webhook_path
    from db.migrate import ensure_up_to_date

    app = create_app(settings)
    bot = create_bot(settings)
    try:
        await ensure_up_to_date(app.engine)
        me = await bot.get_me()
        log.info("running as @%s against %s", me.username, settings.telegram_api_base)
        await register_commands(bot, app.i18n, settings.default_locale)
        if settings.webhook_url:
            secret = settings.webhook_secret.get_secret_value()  # type: ignore[union-attr]
            await bot.set_webhook(
                settings.webhook_url, secret_token=secret,
                allowed_updates=app.dispatcher.resolve_used_update_types(),
            )
            web_app = create_webhook_app(bot, app.dispatcher, secret, webhook_path(settings.webhook_url))
            runner = web.AppRunner(web_app)
            await runner.setup()
            await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
            log.info("webhook listening on %s:%s", settings.webhook_host, settings.webhook_port)
            await stop.wait()
            await runner.cleanup()
        else:
            await run_polling(bot, app.dispatcher, stop)
    finally:
        await bot.session.close()
        await app.close()


async def _run(settings: Settings) -> None:
    stop = asyncio.Event()
    _stop_on_signals(stop)
    await serve(settings, stop)


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    settings.token()  # fail early, in one line, without a token
    _setup_logging(settings.log_level)
    asyncio.run(_run(settings))
    return 0


def cmd_db(args: argparse.Namespace) -> int:
    from db.migrate import upgrade

    settings = load_settings()
    _setup_logging(settings.log_level)
    if args.action == "upgrade":
        upgrade(settings.database_url)
        print("database is up to date")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    settings = load_settings()
    script = Path(args.script).read_text(encoding="utf-8").splitlines() if args.script else None
    _setup_logging(settings.log_level, Path("data") / "demo.log")
    asyncio.run(run_demo(settings, script))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kardes", description="Kardeş, a bot for the Turkic-speaking diaspora.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (polling, or webhook when WEBHOOK_URL is set)").set_defaults(func=cmd_run)
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)
    demo = sub.add_parser("demo", help="bot + local sandbox + sample data + terminal chat")
    demo.add_argument("--script", help="run chat lines from this file and print the transcript")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kardes` and `python -m bot`."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, DatabaseNotReady) as error:
        print(f"kardes: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
