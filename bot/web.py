"""Public HTTP routes of the web process: open data, calendar feeds and the portal (bot/portal)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timezone

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings


def public_routes(session_factory: async_sessionmaker[AsyncSession], settings: Settings) -> list[web.RouteDef]:
    """GET /atlas.json (the latest stored Atlas release, never computed live) and the calendar feeds."""
    from bot.services.atlas import public_atlas

    async def atlas(_request: web.Request) -> web.Response:
        async with session_factory() as session:
            data = await public_atlas(session)
        return web.json_response(data, headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=300"})

    from bot.portal import portal_routes

    routes = [web.get("/atlas.json", atlas), web.get("/ical/org/{id}.ics", organisation_feed_handler(session_factory)),
              web.get("/ical/{token}.ics", ical_feed_handler(session_factory))]
    # The portal's catch-all routes come last, after every fixed path above.
    return routes + portal_routes(session_factory, settings)


def ical_feed_handler(session_factory: async_sessionmaker[AsyncSession]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`GET /ical/{token}.ics`: a member's calendar feed, 404 for an unknown or revoked token."""
    from bot.services.calendar import member_feed

    async def handle(request: web.Request) -> web.StreamResponse:
        token = request.match_info.get("token", "")
        async with session_factory() as session:
            body = await member_feed(session, token, datetime.now(timezone.utc))
        if body is None:
            return web.Response(status=404, text="Not found")
        return web.Response(
            body=body, content_type="text/calendar", charset="utf-8",
            headers={"Cache-Control": "private, max-age=300", "X-Robots-Tag": "noindex"},
        )

    return handle


async def start_http(routes: list[web.RouteDef], host: str, port: int) -> web.AppRunner:
    """A small HTTP server for the public routes and /healthz (polling deployments)."""
    app = web.Application()

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    app.router.add_get("/healthz", health)
    app.add_routes(routes)
    from bot.portal import setup_portal

    setup_portal(app)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


def organisation_feed_handler(session_factory: async_sessionmaker[AsyncSession]) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """`GET /ical/org/{id}.ics`: an organisation's public calendar, 404 for an unknown or inactive one."""
    from bot.numbers import ROW_ID, NumberError, parse_int
    from bot.services.org_feed import organisation_feed

    async def handle(request: web.Request) -> web.StreamResponse:
        organisation_id = parse_int(request.match_info.get("id", ""), ROW_ID)
        if isinstance(organisation_id, NumberError):
            return web.Response(status=404, text="Not found")
        async with session_factory() as session:
            body = await organisation_feed(session, organisation_id, datetime.now(timezone.utc))
        if body is None:
            return web.Response(status=404, text="Not found")
        return web.Response(body=body, content_type="text/calendar", charset="utf-8",
                            headers={"Cache-Control": "public, max-age=900", "Access-Control-Allow-Origin": "*"})

    return handle
