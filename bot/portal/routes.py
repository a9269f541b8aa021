"""The portal's HTTP handlers: public pages in eight languages, feeds, the Atlas, the Mini App API."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import LOCALES, Settings
from bot.i18n import LANGUAGE_NAMES, create_i18n, format_number
from bot.labels import category_label, country_label, interest_label, language_label
from bot.portal import i18n as pi18n
from bot.portal.caching import cached
from bot.portal.initdata import WebAppUser, verify_init_data
from bot.portal.queries import PAGE_SIZE, Filters, PortalData, parse_filters, parse_page
from bot.portal.settings import PortalSettings
from bot.services.directory import ORGANISATION_CATEGORIES
from bot.services.events import EVENT_CATEGORIES, EVENT_LANGUAGES
from db.models import Event, EventStatus, Member, Organisation

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
TEMPLATES = ("base.html", "home.html", "directory.html", "organisation.html", "events.html", "event.html",
             "atlas.html", "privacy.html", "not_found.html", "app.html", "_my_events.html", "_event_list.html",
             "_pager.html")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SITEMAP_LIMIT = 45_000
FEED_CACHE_SECONDS = 60.0
FEED_CACHE_SIZE = 256
SITEMAP_CACHE_SECONDS = 600.0
SITEMAP_PART = 1000


@functools.lru_cache(maxsize=1)
def create_environment() -> jinja2.Environment:
    """Jinja2 over the shipped templates, autoescaped, gettext from the bot's catalogues; compiled
    once per process (nothing in it belongs to one app: each app's data reach the templates as
    their context), so a second app in the process does not compile every template again."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=jinja2.select_autoescape(("html", "xml")),
        extensions=["jinja2.ext.i18n"],
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(_, ngettext, newstyle=True)  # type: ignore[attr-defined]
    for name in TEMPLATES:  # load once at start-up, never from disk on the event loop
        env.get_template(name)
    return env


def json_ld(data: Any) -> Markup:
    """JSON for a <script type="application/ld+json">: nothing in it can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


class Portal:
    """Everything the handlers share: data access, settings, catalogues, templates, static files."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], settings: Settings,
                 portal_settings: PortalSettings | None = None) -> None:
        self.settings = settings
        self.portal_settings = portal_settings or PortalSettings()
        self.data = PortalData(session_factory, self.portal_settings.portal_cache_seconds)
        self.session_factory = session_factory
        self.i18n = create_i18n(settings.default_locale)
        self.env = create_environment()
        self.static = {name: (HERE / "static" / name).read_bytes() for name in ("portal.css", "portal.js")}
        self.static_version = hashlib.blake2b(b"".join(self.static.values()), digest_size=6).hexdigest()
        self._username: str | None = self.portal_settings.bot_username
        self._username_checked = 0.0
        self._username_lock = asyncio.Lock()
        self._feeds: dict[tuple[object, ...], tuple[float, bytes, datetime]] = {}
        self._sitemap: tuple[float, list[str]] | None = None
        self._sitemap_parts: dict[tuple[str, int], bytes] = {}

    # --- helpers -------------------------------------------------------------------------

    def base_url(self, request: web.Request) -> str:
        return self.portal_settings.portal_url or self.settings.public_base() or f"{request.scheme}://{request.host}"

    async def bot_username(self) -> str | None:
        """BOT_USERNAME, else getMe asked once (retried at most every 5 minutes when it fails)."""
        if self._username or self.settings.bot_token is None:
            return self._username
        if time.monotonic() - self._username_checked < 300 and self._username_checked:
            return None
        async with self._username_lock:
            if self._username or (self._username_checked and time.monotonic() - self._username_checked < 300):
                return self._username
            self._username_checked = time.monotonic()
            url = f"{self.settings.telegram_api_base}/bot{self.settings.token()}/getMe"
            try:
                async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http:
                    async with http.get(url) as reply:
                        payload = await reply.json()
                self._username = (payload.get("result") or {}).get("username") or None
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                log.warning("portal: getMe failed; deep links are hidden until it answers")
        return self._username

    def locale_of(self, request: web.Request) -> tuple[str, str | None]:
        """The page's locale, and the unknown prefix asked for (shown the English page)."""
        lang = request.match_info.get("lang", "")
        if lang in LOCALES:
            return lang, None
        return "en", lang[:20]

    def render(self, request: web.Request, template: str, locale: str, context: dict[str, Any], *,
               status: int = 200, unknown: str | None = None, tail: str | None = None) -> web.Response:
        """A page in `locale`, with the switcher, hreflang alternates and the unknown-language notice."""
        tail = tail if tail is not None else self._tail(request)
        query = request.rel_url.query_string
        suffix = tail + ("?" + query if query else "")
        base = self.base_url(request)
        common = {
            "lang": locale,
            "languages": [(code, LANGUAGE_NAMES[code], f"/{code}{suffix}") for code in LOCALES],
            "alternates": [(code, f"{base}/{code}{tail}") for code in LOCALES],
            "canonical": f"{base}/{locale}{tail}",
            "unknown_language": unknown,
            "static_version": self.static_version,
            "u": lambda path="/": f"/{locale}{path}",
            "base_url": base,
            "tail": tail,
        }
        common.update(context)
        with self.i18n.context(), self.i18n.use_locale(locale):
            env = request.config_dict.get(aiohttp_jinja2.APP_KEY) or self.env
            text = env.get_template(template).render(common)
        response = web.Response(text=text, content_type="text/html", charset="utf-8", status=status)
        response.headers["Content-Language"] = locale
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors https://web.telegram.org https://*.telegram.org 'self'; base-uri 'none'; form-action 'self'")
        return response

    @staticmethod
    def _tail(request: web.Request) -> str:
        path = request.rel_url.path
        lang = request.match_info.get("lang")
        if lang is not None and path.startswith(f"/{lang}"):
            return path[len(lang) + 1:] or "/"
        return path

    def not_found(self, request: web.Request, locale: str | None = None, unknown: str | None = None) -> web.Response:
        if locale is None:
            locale = pi18n.from_accept_language(request.headers.get("Accept-Language"), self.settings.default_locale)
        return self.render(request, "not_found.html", locale, {}, status=404, unknown=unknown, tail="/")

    def labels(self, locale: str) -> dict[str, Any]:
        """Filter choices and label functions for the templates (call inside the locale)."""
        return {
            "country_label": lambda code: country_label(code, locale),
            "category_label": category_label,
            "interest_label": interest_label,
            "language_label": lambda code: language_label(code, locale),
            "number": lambda value: format_number(value, locale),
            "when": lambda moment, zone, fmt="medium": pi18n.when(moment, locale, zone, fmt),
            "zone_label": lambda zone, moment: pi18n.zone_label(zone, locale, moment),
            "iso": pi18n.local_iso,
        }

    def page_links(self, request: web.Request, page: int, total: int) -> dict[str, Any]:
        pages = max(1, -(-total // PAGE_SIZE))
        params = {k: v for k, v in request.rel_url.query.items() if k != "page"}

        def link(number: int) -> str:
            return request.rel_url.path + "?" + urlencode({**params, "page": str(number)})

        return {"page": page, "pages": pages, "prev": link(page - 1) if page > 1 else None,
                "next": link(page + 1) if page < pages else None}

    # --- pages ---------------------------------------------------------------------------

    async def root(self, request: web.Request) -> web.Response:
        locale = pi18n.from_accept_language(request.headers.get("Accept-Language"), self.settings.default_locale)
        raise web.HTTPFound(f"/{locale}/", headers={"Vary": "Accept-Language", "Cache-Control": "private, max-age=0"})

    async def bare_prefix(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name in LOCALES:
            raise web.HTTPMovedPermanently(f"/{name}/")
        return self.not_found(request)

    async def home(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        now = datetime.now(timezone.utc)
        events, total, _page = await self.data.events(Filters(), 1, now, page_size=6)
        index = await self.data.directory_index()
        with self.i18n.context(), self.i18n.use_locale(locale):
            context = {"events": events, "events_total": total, "organisations_total": len(index.entries),
                       **self.labels(locale)}
        return cached(request, self.render(request, "home.html", locale, context, unknown=unknown))

    async def directory(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        filters = parse_filters(request.rel_url.query)
        page = parse_page(request.rel_url.query.get("page"))
        organisations, total, page = await self.data.search_directory(filters, page)
        index = await self.data.directory_index()
        context = {"filters": filters, "organisations": organisations, "total": total,
                   "countries": index.countries, "categories": ORGANISATION_CATEGORIES, "spoken": EVENT_LANGUAGES,
                   "feed_query": "", **self.page_links(request, page, total), **self.labels(locale)}
        return cached(request, self.render(request, "directory.html", locale, context, unknown=unknown))

    async def organisation(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        raw = request.match_info["id"]
        org = await self.data.organisation(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        if org is None:
            return self.not_found(request, locale, unknown)
        now = datetime.now(timezone.utc)
        events, total, _page = await self.data.events(Filters(organisation=org.id), 1, now, page_size=10)
        username = await self.bot_username()
        base = self.base_url(request)
        feed = f"{base}/feeds/events.ics?organisation={org.id}"
        ld: dict[str, Any] = {"@context": "https://schema.org", "@type": "Organization", "name": org.name,
                              "url": f"{base}/{locale}/organisations/{org.id}"}
        if org.website:
            ld["sameAs"] = [org.website]
        if org.city or org.country_code or org.address:
            ld["address"] = {"@type": "PostalAddress", "streetAddress": org.address or None,
                             "addressLocality": org.city or None, "addressCountry": org.country_code or None}
            ld["address"] = {k: v for k, v in ld["address"].items() if v}
        if org.email:
            ld["email"] = org.email
        if org.phone:
            ld["telephone"] = org.phone
        context = {"org": org, "events": events, "events_total": total, "feed": feed,
                   "webcal": "webcal://" + feed.split("://", 1)[1], "json_ld": json_ld(ld),
                   "follow_link": f"https://t.me/{username}?start=o_{org.id}" if username else None,
                   "telegram_link": _telegram_url(org.telegram), "website": _http_url(org.website),
                   **self.labels(locale)}
        last = org.last_confirmed_at or org.created_at
        return cached(request, self.render(request, "organisation.html", locale, context, unknown=unknown), last)

    async def events(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        filters = parse_filters(request.rel_url.query, events=True)
        page = parse_page(request.rel_url.query.get("page"))
        now = datetime.now(timezone.utc)
        events, total, page = await self.data.events(filters, page, now)
        feed_params = {k: v for k, v in filters.as_query().items() if k in ("country", "city", "language", "organisation", "category")}
        feed = f"{self.base_url(request)}/feeds/events.ics" + ("?" + urlencode(feed_params) if feed_params else "")
        context = {"filters": filters, "events": events, "total": total, "countries": await self.data.event_countries(now),
                   "categories": EVENT_CATEGORIES, "spoken": EVENT_LANGUAGES, "feed": feed,
                   "webcal": "webcal://" + feed.split("://", 1)[1],
                   **self.page_links(request, page, total), **self.labels(locale)}
        return cached(request, self.render(request, "events.html", locale, context, unknown=unknown))

    async def event(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        raw = request.match_info["id"]
        found = await self.data.event(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        if found is None:
            return self.not_found(request, locale, unknown)
        event, org = found
        username = await self.bot_username()
        base = self.base_url(request)
        context = {"event": event, "org": org, "cancelled": event.status == EventStatus.CANCELLED.value,
                   "past": event.starts_at <= datetime.now(timezone.utc),
                   "json_ld": json_ld(event_json_ld(event, org, base, locale)),
                   "rsvp_link": f"https://t.me/{username}?start=e_{event.id}" if username else None,
                   "map_link": _map_url(event), "ends_at": event.ends_at, "link": _http_url(event.link),
                   **self.labels(locale)}
        last = event.updated_at or event.created_at
        return cached(request, self.render(request, "event.html", locale, context, unknown=unknown), last)

    async def event_ics(self, request: web.Request) -> web.Response:
        from bot.services.calendar import event_ics

        raw = request.match_info["id"]
        found = await self.data.event(int(raw)) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None
        if found is None:
            return self.not_found(request)
        event, org = found
        body = event_ics(event, org, event.updated_at or event.created_at)
        response = web.Response(body=body, content_type="text/calendar", charset="utf-8", headers={
            "Content-Disposition": f'attachment; filename="event-{event.id}.ics"'})
        return cached(request, response, event.updated_at or event.created_at, "public, max-age=300")

    async def feed(self, request: web.Request) -> web.Response:
        """GET /feeds/events.ics?city=&country=&language=&organisation=&category= (RFC 5545)."""
        from bot.services.calendar import feed_ics

        filters = parse_filters(request.rel_url.query, events=True)
        filters = Filters(country=filters.country, city=filters.city, language=filters.language,
                          organisation=filters.organisation, category=filters.category)
        key = (filters.country, filters.city, filters.language, filters.organisation, filters.category)
        hit = self._feeds.get(key)
        if hit is None or time.monotonic() - hit[0] > FEED_CACHE_SECONDS:
            now = datetime.now(timezone.utc)
            rows = await self.data.feed_events(filters, now)
            parts = [p for p in (filters.city, filters.country, filters.language) if p]
            name = "Kardeş" + (" — " + ", ".join(parts) if parts else "")
            if filters.organisation and rows:
                name = "Kardeş — " + rows[0][1].name
            stamp = max((e.updated_at or e.created_at for e, _o in rows), default=now.replace(microsecond=0))
            body = await asyncio.to_thread(feed_ics, rows, stamp, name)
            if len(self._feeds) >= FEED_CACHE_SIZE:
                self._feeds.pop(next(iter(self._feeds)))
            hit = self._feeds[key] = (time.monotonic(), body, stamp)
        _at, body, stamp = hit
        response = web.Response(body=body, content_type="text/calendar", charset="utf-8")
        return cached(request, response, stamp, "public, max-age=900")

    async def privacy(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        return cached(request, self.render(request, "privacy.html", locale, {}, unknown=unknown))

    async def catch_all(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        return self.not_found(request, locale, unknown)

    async def static_file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.static:
            return self.not_found(request)
        kind = "text/css" if name.endswith(".css") else "application/javascript"
        response = web.Response(body=self.static[name], content_type=kind, charset="utf-8")
        return cached(request, response, None, "public, max-age=86400")

    async def robots(self, request: web.Request) -> web.Response:
        base = self.base_url(request)
        text = f"User-agent: *\nAllow: /\nDisallow: /api/\nDisallow: /ical/\nDisallow: /*/app\n\nSitemap: {base}/sitemap.xml\n"
        return cached(request, web.Response(text=text, content_type="text/plain", charset="utf-8"), None, "public, max-age=3600")

    async def _sitemap_tails(self) -> list[str]:
        """Paths of every page worth indexing: listed organisations and upcoming events, no sample data."""
        stale = self._sitemap is None or time.monotonic() - self._sitemap[0] > SITEMAP_CACHE_SECONDS or \
            self.portal_settings.portal_cache_seconds == 0
        if stale:
            orgs, events = await self.data.sitemap_ids(datetime.now(timezone.utc), SITEMAP_LIMIT)
            tails = ["/", "/directory", "/events", "/atlas", "/privacy"]
            tails += [f"/organisations/{i}" for i in orgs] + [f"/events/{i}" for i in events]
            self._sitemap = (time.monotonic(), tails)
            self._sitemap_parts.clear()
        return self._sitemap[1]  # type: ignore[index]

    async def sitemap(self, request: web.Request) -> web.Response:
        """A sitemap index: one part per SITEMAP_PART pages (each listed with its eight languages)."""
        tails = await self._sitemap_tails()
        base = self.base_url(request)
        parts = max(1, -(-len(tails) // SITEMAP_PART))
        lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                 '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
        lines += [f"<sitemap><loc>{base}/sitemaps/{n}.xml</loc></sitemap>" for n in range(1, parts + 1)]
        lines.append("</sitemapindex>")
        response = web.Response(text="\n".join(lines), content_type="application/xml", charset="utf-8")
        return cached(request, response, None, "public, max-age=3600")

    async def sitemap_part(self, request: web.Request) -> web.Response:
        raw = request.match_info["n"]
        tails = await self._sitemap_tails()
        number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 6 else 0
        chunk = tails[(number - 1) * SITEMAP_PART: number * SITEMAP_PART] if number > 0 else []
        if not chunk:
            return self.not_found(request)
        base = self.base_url(request)
        body = self._sitemap_parts.get((base, number))
        if body is None:
            from xml.sax.saxutils import quoteattr

            lines = ['<?xml version="1.0" encoding="UTF-8"?>',
                     '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:xhtml="http://www.w3.org/1999/xhtml">']
            for tail in chunk:
                lines.append(f"<url><loc>{base}/en{tail}</loc>")
                lines.extend(f'<xhtml:link rel="alternate" hreflang="{code}" href={quoteattr(f"{base}/{code}{tail}")}/>'
                             for code in LOCALES)
                lines.append("</url>")
            lines.append("</urlset>")
            body = "\n".join(lines).encode()
            if len(self._sitemap_parts) > 64:
                self._sitemap_parts.clear()
            self._sitemap_parts[(base, number)] = body
        response = web.Response(body=body, content_type="application/xml", charset="utf-8")
        return cached(request, response, None, "public, max-age=3600")

    # --- the Mini App --------------------------------------------------------------------

    async def app_page(self, request: web.Request) -> web.Response:
        locale, unknown = self.locale_of(request)
        response = self.render(request, "app.html", locale, {}, unknown=unknown)
        response.headers["Cache-Control"] = "private, max-age=0"
        response.headers["X-Robots-Tag"] = "noindex"
        return response

    async def _webapp_user(self, request: web.Request) -> WebAppUser | None:
        init_data = request.headers.get("X-Telegram-Init-Data", "")
        if not init_data and request.headers.get("Authorization", "").startswith("tma "):
            init_data = request.headers["Authorization"][4:]
        if self.settings.bot_token is None:
            return None
        return verify_init_data(init_data, self.settings.token(), self.portal_settings.webapp_auth_max_age)

    def _api_reply(self, locale: str, status: int, message: str, **extra: Any) -> web.Response:
        payload = {"ok": 200 <= status < 300, "message": message, **extra}
        return web.json_response(payload, status=status, headers={"Cache-Control": "no-store"})

    async def api(self, request: web.Request) -> web.Response:
        """POST /api/app/{action}: my-events, rsvp, follow, unfollow — only with genuine initData."""
        from bot.i18n import locale_from_telegram

        user = await self._webapp_user(request)
        fallback = pi18n.from_accept_language(request.headers.get("Accept-Language"), self.settings.default_locale)
        if user is None:
            with self.i18n.context(), self.i18n.use_locale(fallback):
                return self._api_reply(fallback, 401, _("This page must be opened from the bot in Telegram."))
        action = request.match_info["action"]
        try:
            body = await request.json() if request.can_read_body else {}
        except (ValueError, UnicodeDecodeError):
            body = {}
        body = body if isinstance(body, dict) else {}
        now = datetime.now(timezone.utc)
        async with self.session_factory() as session:
            member = await session.scalar(select(Member).where(Member.telegram_id == user.id))
            locale = (member.locale if member and member.locale in LOCALES else None) or \
                locale_from_telegram(user.language_code) or fallback
            with self.i18n.context(), self.i18n.use_locale(locale):
                if member is None or not member.is_active or member.registered_at is None:
                    return self._api_reply(locale, 403, _("Please register in the bot first: send /start."))
                from bot.portal import miniapp

                handler = miniapp.ACTIONS.get(action)
                if handler is None:
                    return self._api_reply(locale, 404, _("Page not found"))
                status, message, extra = await handler(self, session, member, body, now, locale, request)
                if status < 300:
                    await session.commit()
                else:
                    await session.rollback()
        return self._api_reply(locale, status, message, **extra)


def event_json_ld(event: Event, org: Organisation, base: str, locale: str) -> dict[str, Any]:
    """schema.org Event: name, startDate and location (with an address) always; the rest when known."""
    ends = event.ends_at or event.starts_at + timedelta(hours=2)
    address = {"@type": "PostalAddress", "addressLocality": event.city or None,
               "addressCountry": event.country_code or None, "streetAddress": event.venue or None}
    place: dict[str, Any] = {"@type": "Place", "name": event.venue or event.city or org.name,
                             "address": {k: v for k, v in address.items() if v}}
    if event.latitude is not None and event.longitude is not None:
        place["geo"] = {"@type": "GeoCoordinates", "latitude": event.latitude, "longitude": event.longitude}
    data: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Event",
        "name": event.title,
        "startDate": pi18n.local_iso(event.starts_at, event.timezone),
        "endDate": pi18n.local_iso(ends, event.timezone),
        "eventStatus": "https://schema.org/EventCancelled" if event.status == EventStatus.CANCELLED.value
        else "https://schema.org/EventScheduled",
        "eventAttendanceMode": "https://schema.org/OfflineEventAttendanceMode",
        "location": place,
        "organizer": {"@type": "Organization", "name": org.name, "url": f"{base}/{locale}/organisations/{org.id}"},
        "url": f"{base}/{locale}/events/{event.id}",
    }
    if event.description:
        data["description"] = event.description
    if event.languages:
        data["inLanguage"] = list(event.languages)
    if event.capacity:
        data["maximumAttendeeCapacity"] = event.capacity
    return data


def _http_url(value: str | None) -> str | None:
    return value if value and value.startswith(("https://", "http://")) else None


def _telegram_url(value: str | None) -> str | None:
    if not value:
        return None
    if value.startswith("https://t.me/"):
        return value
    name = value.lstrip("@")
    return f"https://t.me/{name}" if name.replace("_", "").isalnum() else None


def _map_url(event: Event) -> str | None:
    if event.latitude is None or event.longitude is None:
        return None
    lat, lon = f"{event.latitude:.5f}", f"{event.longitude:.5f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map=16/{lat}/{lon}"


def portal_routes(session_factory: async_sessionmaker[AsyncSession], settings: Settings,
                  portal_settings: PortalSettings | None = None) -> list[web.RouteDef]:
    """Every portal route; the catch-alls come last."""
    from bot.portal.atlas_page import AtlasPages

    portal = Portal(session_factory, settings, portal_settings)
    atlas = AtlasPages(portal)
    lang = "/{lang}"
    return [
        web.get("/", portal.root),
        web.get("/robots.txt", portal.robots),
        web.get("/sitemap.xml", portal.sitemap),
        web.get("/sitemaps/{n}.xml", portal.sitemap_part),
        web.get("/static/{name}", portal.static_file),
        web.get("/feeds/events.ics", portal.feed),
        web.get("/events/{id}.ics", portal.event_ics),
        web.get("/atlas/map.svg", atlas.map_svg),
        web.get("/atlas.csv", atlas.csv),
        web.get("/atlas/catalog.json", atlas.catalog),
        web.post("/api/app/{action}", portal.api),
        web.get(lang + "/", portal.home),
        web.get(lang + "/directory", portal.directory),
        web.get(lang + "/organisations/{id}", portal.organisation),
        web.get(lang + "/events", portal.events),
        web.get(lang + "/events/{id}", portal.event),
        web.get(lang + "/atlas", atlas.page),
        web.get(lang + "/privacy", portal.privacy),
        web.get(lang + "/app", portal.app_page),
        web.get("/{name}", portal.bare_prefix),
        web.get(lang + "/{tail:.*}", portal.catch_all),
    ]


def setup_portal(app: web.Application) -> None:
    """Give the app the portal's Jinja2 environment (aiohttp-jinja2's app key)."""
    if aiohttp_jinja2.APP_KEY not in app:
        env = create_environment()
        app[aiohttp_jinja2.APP_KEY] = env
