"""The composition root: one process serving updates (polling or webhook) and/or the worker.

`kardes run`, `kardes worker` and `kardes demo` all start here; the command line only parses
arguments. The imports are inside `serve()` so that `kardes --help` stays fast.
"""

from __future__ import annotations

import asyncio
import logging

from bot.config import Settings

log = logging.getLogger("kardes")


async def serve(settings: Settings, stop: asyncio.Event, *, bot_updates: bool = True, worker: bool = True) -> None:
    """Check the database, then until `stop` is set: take updates (polling, or the webhook when
    WEBHOOK_URL is set) and/or run the worker (scheduler and its jobs)."""
    from aiohttp import web

    from bot.app import create_app, create_bot
    from bot.commands import register_commands
    from bot.runtime import create_webhook_app, run_polling, webhook_path
    from bot.web import public_routes, start_http
    from db.migrate import ensure_up_to_date
    from jobs.context import JobContext, set_context
    from jobs.scheduler import create_scheduler, install_standing_jobs

    app = create_app(settings)
    bot = create_bot(settings)
    scheduler = None
    chores: list[asyncio.Task[None]] = []
    try:
        await ensure_up_to_date(app.engine)
        me = await bot.get_me()
        log.info("running as @%s against %s", me.username, settings.telegram_api_base)
        if worker and not bot_updates:
            # The dispatcher's start-up does this before polling; a worker alone does it here,
            # so the digest's first gazetteer look-up does not build it on the loop.
            from bot.geo import warm_up

            await asyncio.to_thread(warm_up)
        if worker:
            from jobs import announcements, event_news

            context = JobContext(settings, app.session_factory, bot, app.i18n)
            set_context(context)

            async def nudge_worker() -> None:
                """Handlers call this (after their commit) so queued work starts now, not at the next tick."""
                await announcements.tick(context)
                event_news.start(context)

            app.dispatcher["nudge_worker"] = nudge_worker
            scheduler = create_scheduler()
            scheduler.start()
            install_standing_jobs(scheduler)
            log.info("worker: scheduler started")
        if not bot_updates:
            await stop.wait()
            return
        from bot.portal.menu import set_menu_button  # the portal as a Mini App, when PORTAL_URL is set

        async def publish_menus() -> None:
            """The command menus, the bot's profile texts and the menu button: some fifty Bot API
            calls, made while updates are already being answered rather than before (over a real
            network they took seconds, and a restart under a backlog waited for them)."""
            try:
                await register_commands(bot, app.i18n, settings.default_locale)
                await set_menu_button(bot, locale=settings.default_locale)
            except Exception:  # a menu is not worth stopping the bot for; the next start tries again
                log.exception("publishing the command menus and the profile failed")

        menus = asyncio.create_task(publish_menus())
        chores.append(menus)
        if settings.webhook_url:
            secret = settings.webhook_secret.get_secret_value()  # type: ignore[union-attr]
            await bot.set_webhook(
                settings.webhook_url, secret_token=secret,
                allowed_updates=app.dispatcher.resolve_used_update_types(),
                max_connections=settings.max_updates_in_flight,
            )
            routes = public_routes(app.session_factory, settings)
            web_app = create_webhook_app(bot, app.dispatcher, secret, webhook_path(settings.webhook_url), routes)
            # Requests in flight get the grace period to finish when we stop.
            runner = web.AppRunner(web_app, shutdown_timeout=settings.shutdown_grace_seconds)
            await runner.setup()
            # SO_REUSEPORT: several web processes may listen on one port (the kernel spreads connections).
            await web.TCPSite(runner, settings.webhook_host, settings.webhook_port, reuse_port=True).start()
            log.info("webhook listening on %s:%s", settings.webhook_host, settings.webhook_port)
            await stop.wait()
            await runner.cleanup()
        else:
            http = None
            if settings.http_port:
                http = await start_http(public_routes(app.session_factory, settings), settings.webhook_host, settings.http_port)
                log.info("public HTTP routes on port %s", settings.http_port)
            try:
                await run_polling(bot, app.dispatcher, stop)
            finally:
                if http is not None:
                    await http.cleanup()
    finally:
        for chore in chores:
            chore.cancel()
        await asyncio.gather(*chores, return_exceptions=True)
        if scheduler is not None:
            from jobs.announcements import stop_all

            scheduler.shutdown(wait=False)
            await stop_all()
            set_context(None)
        await bot.session.close()
        await app.close()
