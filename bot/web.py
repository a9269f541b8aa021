"""Public HTTP routes of the web process: open data and calendar feeds."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings


def public_routes(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> list[web.RouteDef]:
    """GET /atlas.json (the public Diaspora Atlas) and the members' calendar feeds."""
    from bot.services.atlas import public_atlas

    async def atlas(_request: web.Request) -> web.Response:
        async with session_factory() as session:
            data = await public_atlas(session, settings.atlas_min_cell)
        return web.json_response(data, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})

    routes = [web.get("/atlas.json", atlas)]
    try:
        from bot.services.calendar import ical_feed_handler
    except ImportError:  # the events feature brings the calendar feed
        return routes
    from bot.services.org_feed import organisation_feed_handler  # issue 15: organisations' public feeds

    routes.append(web.get("/ical/org/{id}.ics", organisation_feed_handler(session_factory)))
    routes.append(web.get("/ical/{token}.ics", ical_feed_handler(session_factory)))
    return routes


async def start_http(routes: list[web.RouteDef], host: str, port: int) -> web.AppRunner:
    """A small HTTP server for the public routes and /healthz (polling deployments)."""
    app = web.Application()

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", health)
    app.add_routes(routes)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
