"""The `kardes` command line: run, db upgrade, demo."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from bot.config import LOCALES, ConfigError, Settings, load_settings
from bot.process import serve
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


def _run(settings: Settings, **roles: bool) -> int:
    async def main() -> None:
        stop = asyncio.Event()
        _stop_on_signals(stop)
        await serve(settings, stop, **roles)

    settings.token()  # fail early, in one line, without a token
    _setup_logging(settings.log_level)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main())
    return 0


def event_loop_factory():  # type: ignore[no-untyped-def]
    """uvloop's event loop where it is installed (a faster loop: sockets, timers, wake-ups from
    the database threads), else asyncio's own."""
    try:
        import uvloop
    except ImportError:  # not installed, or a platform it does not support (Windows)
        return None
    return uvloop.new_event_loop


def cmd_run(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.mode == "webhook" and not settings.webhook_url:
        raise ConfigError("WEBHOOK_URL is not set: the webhook mode needs the public URL Telegram should call")
    if args.mode == "polling":
        settings = settings.model_copy(update={"webhook_url": None})
    return _run(settings, bot_updates=True, worker=not args.no_worker)


def cmd_worker(args: argparse.Namespace) -> int:
    return _run(load_settings(), bot_updates=False, worker=True)


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


async def _with_session(settings: Settings, work):  # type: ignore[no-untyped-def]
    """Run `work(session)` on a migrated database and commit what it did."""
    from db.migrate import ensure_up_to_date
    from db.session import create_engine, create_session_factory

    engine = create_engine(settings.database_url)
    try:
        await ensure_up_to_date(engine)
        async with create_session_factory(engine)() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


def cmd_import(args: argparse.Namespace) -> int:
    from bot.services import importer

    settings = load_settings()
    run = importer.import_organisations if args.what == "orgs" else importer.import_events
    path = Path(args.file)

    async def work(session):  # type: ignore[no-untyped-def]
        report = await run(session, path, skip_bad=args.skip_bad)
        if not report.ok and not args.skip_bad:
            await session.rollback()  # any bad row: import nothing
        return report

    try:
        report = asyncio.run(_with_session(settings, work))
    except (importer.ImportFileError, OSError) as error:
        print(f"kardes: cannot import {path}: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0 if report.ok or args.skip_bad else 1


def cmd_export(args: argparse.Namespace) -> int:
    from bot.services import importer

    settings = load_settings()
    run = importer.export_organisations if args.what == "orgs" else importer.export_events
    count = asyncio.run(_with_session(settings, lambda session: run(session, Path(args.file))))
    print(f"exported {count} {args.what} to {args.file}")
    return 0


def _audience_from_args(pairs: list[str]) -> dict[str, object]:
    """countries=DE,FR cities=Berlin,Köln languages=kk origins=KZ interests=culture radius=52.52,13.40,50"""
    from bot.numbers import ROW_ID, NumberError, parse_int
    from bot.services.registration import find_cities

    audience: dict[str, object] = {}
    for pair in pairs:
        key, _sep, value = pair.partition("=")
        values = [part.strip() for part in value.split(",") if part.strip()]
        if key in ("countries", "origins", "languages", "interests"):
            audience[key] = values
        elif key == "cities":
            ids = []
            for name in values:
                number = parse_int(name, ROW_ID)
                found = [number] if not isinstance(number, NumberError) else [city.geoname_id for city in find_cities(name, limit=1)]
                if not found:
                    raise ConfigError(f"unknown city {name!r} in --audience")
                ids.extend(found)
            audience["cities"] = ids
        elif key == "radius" and len(values) == 3:
            audience["radius"] = {"lat": values[0], "lon": values[1], "km": values[2]}
        else:
            raise ConfigError(f"--audience {pair!r}: use countries=, cities=, languages=, interests=, origins= or radius=LAT,LON,KM")
    return audience


def cmd_announce(args: argparse.Namespace) -> int:
    from datetime import datetime

    from bot.services import announcements as ann
    from db.models import Announcement

    settings = load_settings()
    if args.action == "status":
        async def status(session):  # type: ignore[no-untyped-def]
            announcement = await session.get(Announcement, args.id)
            if announcement is None:
                return None
            return announcement, await ann.counts(session, announcement)

        found = asyncio.run(_with_session(settings, status))
        if found is None:
            print(f"kardes: no announcement {args.id}", file=sys.stderr)
            return 1
        announcement, figures = found
        print(f"id {announcement.id} status {announcement.status} total {figures.total} sent {figures.sent} "
              f"blocked {figures.blocked} failed {figures.failed} pending {figures.pending} deferred {figures.deferred}")
        return 0
    texts = {**({"en": args.text} if args.text else {}), **args.texts}
    unknown = sorted(set(texts) - set(LOCALES))
    if unknown:
        raise ConfigError(f"--text-{unknown[0]}: the languages are {', '.join(LOCALES)}")
    send_at = datetime.fromisoformat(args.at) if args.at else None
    if send_at is not None and send_at.tzinfo is None:
        raise ConfigError("--at needs a time zone offset, e.g. 2026-12-25T18:30+01:00")
    draft = ann.Draft(texts=texts, audience=_audience_from_args(args.audience or []), send_at=send_at, urgent=args.urgent)

    async def create(session):  # type: ignore[no-untyped-def]
        confirmed = await ann.confirm(session, draft, None)  # the audience counted once, as in the chat
        if args.dry_run:
            await session.rollback()
        return confirmed.announcement.id, confirmed.audience_size

    try:
        announcement_id, size = asyncio.run(_with_session(settings, create))
    except ann.AnnouncementError as error:
        print(f"kardes: announcement refused: {error.code} {error.details or ''}".rstrip(), file=sys.stderr)
        return 1
    print(f"{'dry run: ' if args.dry_run else ''}announcement {announcement_id if not args.dry_run else '-'} audience {size}")
    return 0


def cmd_atlas(args: argparse.Namespace) -> int:
    from bot.services import atlas

    settings = load_settings()
    if args.action == "export":
        data = asyncio.run(_with_session(settings, lambda session: atlas.export_atlas(session, args.format, args.out)))
        print(f"atlas release {data['release'] or '(none yet)'} written to {args.out}")
        return 0

    async def spent(session):  # type: ignore[no-untyped-def]
        return await atlas.budget(session, settings.atlas_epsilon, settings.atlas_lifetime_epsilon)

    state = asyncio.run(_with_session(settings, spent))
    print(f"a release spends epsilon {state.per_release:g}; spent so far {state.spent:g} of {state.lifetime:g} "
          f"in {state.releases} releases")
    if not state.allows_release:
        print("kardes: release refused: the lifetime privacy budget is spent; the latest release stays published",
              file=sys.stderr)
        return 1
    if not args.yes:
        answer = input("make the release? [y/N] ").strip().lower() if sys.stdin.isatty() else ""
        if answer not in ("y", "yes"):
            print("no release made (pass --yes to confirm without asking)")
            return 1

    async def release(session):  # type: ignore[no-untyped-def]
        plan = await atlas.plan_release(session, epsilon=settings.atlas_epsilon, lifetime=settings.atlas_lifetime_epsilon,
                                        min_cell=settings.atlas_min_cell)
        await session.commit()  # the command owns its session: no transaction is open while the noise is drawn
        made = await atlas.publish_release(session, plan, trigger="cli")
        return made.id, made.epsilon  # committed by _with_session

    try:
        release_id, epsilon = asyncio.run(_with_session(settings, release))
    except atlas.BudgetSpent as refused:
        print(f"kardes: release refused: {refused}", file=sys.stderr)
        return 1
    except atlas.ReleaseBusy:
        print("kardes: another release was being made at the same moment; try again", file=sys.stderr)
        return 1
    print(f"atlas release {release_id} published (epsilon {epsilon:g})")
    return 0


def cmd_role(args: argparse.Namespace) -> int:
    from bot.services import events

    settings = load_settings()
    change = events.grant_role if args.command == "grant" else events.revoke_role

    async def work(session):  # type: ignore[no-untyped-def]
        return await change(session, args.telegram_id, args.organisation_id)

    try:
        changed = asyncio.run(_with_session(settings, work))
    except LookupError as error:
        missing = f"registered member with Telegram id {args.telegram_id}" if error.args == ("member",) else f"organisation {args.organisation_id}"
        print(f"kardes: there is no {missing}", file=sys.stderr)
        return 1
    if changed is False:
        print(f"kardes: Telegram user {args.telegram_id} does not represent organisation {args.organisation_id}", file=sys.stderr)
        return 1
    verb = "granted" if args.command == "grant" else "revoked"
    print(f"{verb}: org_rep of organisation {args.organisation_id} for Telegram user {args.telegram_id}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kardes", description="Kardeş, a bot for the Turkic-speaking diaspora.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot (polling, or webhook when WEBHOOK_URL is set)")
    run.add_argument("--mode", choices=["auto", "polling", "webhook"], default="auto",
                     help="auto: webhook when WEBHOOK_URL is set, else polling")
    run.add_argument("--no-worker", action="store_true",
                     help="do not run the scheduler here (a separate `kardes worker` runs it)")
    run.set_defaults(func=cmd_run)
    sub.add_parser("worker", help="run the scheduler and delivery jobs (exactly one per database)").set_defaults(func=cmd_worker)
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"])
    db.set_defaults(func=cmd_db)
    imp = sub.add_parser("import", help="import organisations or events from CSV or JSON (upsert by external_id)")
    imp.add_argument("what", choices=["orgs", "events"])
    imp.add_argument("file")
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows even when some are bad")
    imp.set_defaults(func=cmd_import)
    exp = sub.add_parser("export", help="export organisations or events to CSV or JSON (by the file's extension)")
    exp.add_argument("what", choices=["orgs", "events"])
    exp.add_argument("file")
    exp.set_defaults(func=cmd_export)
    announce = sub.add_parser("announce", help="schedule an announcement, or `announce status ID`")
    announce.add_argument("action", nargs="?", choices=["status"], help="status: print an announcement's counts")
    announce.add_argument("id", nargs="?", type=int)
    announce.add_argument("--text", help="the English text (HTML); add --text-kk TEXT etc. for other languages")
    announce.add_argument("--audience", action="append", metavar="KEY=VALUE")
    announce.add_argument("--at", help="ISO 8601 time with offset; default: now")
    announce.add_argument("--urgent", action="store_true", help="ignore members' quiet hours")
    announce.add_argument("--dry-run", action="store_true", help="validate and count the audience, store nothing")
    announce.set_defaults(func=cmd_announce)
    atlas = sub.add_parser("atlas", help="the Diaspora Atlas: make a differentially private release, or export the latest")
    atlas_sub = atlas.add_subparsers(dest="action", required=True)
    release = atlas_sub.add_parser("release", help="make a release now (spends ATLAS_EPSILON of the lifetime budget)")
    release.add_argument("--yes", action="store_true", help="spend the budget without asking")
    release.set_defaults(func=cmd_atlas)
    export = atlas_sub.add_parser("export", help="write the latest release as open data")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    export.add_argument("out", help="the file to write")
    export.set_defaults(func=cmd_atlas)
    for name, text in (("grant", "make a member a representative of an organisation"),
                       ("revoke", "stop a member representing an organisation")):
        role = sub.add_parser(name, help=text)
        role.add_argument("telegram_id", type=int)
        role.add_argument("organisation_id", type=int)
        role.set_defaults(func=cmd_role)
    demo = sub.add_parser("demo", help="bot + local sandbox + sample data + terminal chat")
    demo.add_argument("--script", help="run chat lines from this file and print the transcript")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of `kardes` and `python -m bot`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    texts: dict[str, str] = {}
    for index in range(len(argv) - 2, -1, -1):  # --text-kk "…": one option per locale, not known in advance
        if argv[index].startswith("--text-"):
            texts[argv[index].removeprefix("--text-")] = argv[index + 1]
            del argv[index : index + 2]
    args = build_parser().parse_args(argv)
    args.texts = texts
    try:
        return args.func(args)
    except (ConfigError, DatabaseNotReady) as error:
        print(f"kardes: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
