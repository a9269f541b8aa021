"""The portal over HTTP: pages in three locales, search, feeds, JSON-LD, sitemap, bad input, the Atlas."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone

import icalendar
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.config import load_settings
from db.models import Event, EventStatus, Member, Organisation

TOKEN = "123456:portal-test-token"
USERNAME = "kardes_test_bot"
NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)
XSS = "<script>alert(1)</script>"


@pytest.fixture
async def portal(session_factory, database_url, monkeypatch) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BOT_USERNAME", USERNAME)
    monkeypatch.setenv("PORTAL_CACHE_SECONDS", "0")
    monkeypatch.delenv("PORTAL_URL", raising=False)
    from bot.web import public_routes
    from bot.portal import setup_portal

    settings = load_settings(database_url=database_url, bot_token=TOKEN, telegram_api_base="http://127.0.0.1:9")
    app = web.Application()
    app.add_routes(public_routes(session_factory, settings))
    setup_portal(app)
    async with TestClient(TestServer(app)) as client:
        yield client


async def seed(session_factory) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Two listed organisations, one hidden one; approved, pending and cancelled events."""
    async with session_factory() as session:
        almaty = Organisation(name="Qazaq Mádenı Ortalyǵy", category="cultural_centre", country_code="KZ", city="Almaty",
                              address="Abay 10", languages=["kk", "ru"], email="info@example.org", phone="+7 727 000",
                              website="https://example.org", telegram="@qazaq_centre", latitude=43.238, longitude=76.945,
                              name_translations={"ru": "Казахский культурный центр"})
        istanbul = Organisation(name="İstanbul Türk Derneği", category="association", country_code="TR", city="İstanbul",
                                languages=["tr"], latitude=41.01, longitude=28.97)
        hidden = Organisation(name="Closed Society", category="association", country_code="DE", city="Berlin",
                              is_active=False)
        session.add_all([almaty, istanbul, hidden])
        await session.flush()
        concert = Event(organisation_id=almaty.id, title="Nauryz concert", description="Music & dance",
                        starts_at=NOW + timedelta(days=3), ends_at=NOW + timedelta(days=3, hours=2),
                        timezone="Asia/Almaty", venue="Abay Opera", city="Алматы", country_code="KZ",
                        latitude=43.24, longitude=76.95, languages=["kk"], category="culture", capacity=100,
                        status=EventStatus.APPROVED.value, created_at=NOW - timedelta(days=1))
        lecture = Event(organisation_id=istanbul.id, title="Türk dili dersi", starts_at=NOW + timedelta(days=10),
                        timezone="Europe/Istanbul", city="Istanbul", country_code="TR", languages=["tr"],
                        category="education", status=EventStatus.APPROVED.value)
        pending = Event(organisation_id=almaty.id, title="Secret pending plan", starts_at=NOW + timedelta(days=5),
                        timezone="Asia/Almaty", city="Almaty", country_code="KZ", status=EventStatus.PENDING.value)
        of_hidden = Event(organisation_id=hidden.id, title="Hidden org party", starts_at=NOW + timedelta(days=5),
                          timezone="Europe/Berlin", city="Berlin", country_code="DE", status=EventStatus.APPROVED.value)
        cancelled = Event(organisation_id=istanbul.id, title="Called off picnic", starts_at=NOW + timedelta(days=4),
                          timezone="Europe/Istanbul", city="Istanbul", country_code="TR", status=EventStatus.CANCELLED.value)
        session.add_all([concert, lecture, pending, of_hidden, cancelled])
        await session.commit()
        return {"almaty": almaty.id, "istanbul": istanbul.id, "hidden": hidden.id, "concert": concert.id,
                "lecture": lecture.id, "pending": pending.id, "of_hidden": of_hidden.id, "cancelled": cancelled.id}


def json_ld_of(html: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(block) for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)]


# --- every page, three locales ---------------------------------------------------------------

@pytest.mark.parametrize(("lang", "word"), [("en", "Directory"), ("tr", "Rehber"), ("kk", "Анықтамалық")])
async def test_every_page_renders_in_the_locale(portal: TestClient, session_factory, lang: str, word: str) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    pages = ["/", "/directory", f"/organisations/{ids['almaty']}", "/events", f"/events/{ids['concert']}", "/atlas",
             "/privacy", "/app"]
    for page in pages:
        reply = await portal.get(f"/{lang}{page}")
        html = await reply.text()
        assert reply.status == 200, page
        assert f'<html lang="{lang}"' in html
        assert word in html, page  # the menu is in the reader's language
        alternates = re.findall(r'<link rel="alternate" hreflang="([a-z-]+)" href="([^"]+)"', html)
        assert {code for code, _ in alternates} == {"tr", "az", "kk", "ky", "uz", "tk", "ru", "en", "x-default"}
        assert all(href.endswith(page) for code, href in alternates), page
        # The switcher links to the same page in the other languages.
        assert f'href="/ru{page}" hreflang="ru"' in html
    missing = await portal.get(f"/{lang}/no-such-page")
    assert missing.status == 404
    assert word in await missing.text()


async def test_root_picks_the_language_from_accept_language(portal: TestClient) -> None:
    reply = await portal.get("/", headers={"Accept-Language": "de-DE,kk;q=0.8,ru;q=0.5"}, allow_redirects=False)
    assert reply.status == 302
    assert reply.headers["Location"] == "/kk/"
    reply = await portal.get("/", headers={"Accept-Language": "fr"}, allow_redirects=False)
    assert reply.headers["Location"] == "/en/"


async def test_unknown_language_prefix_gives_the_english_page_with_a_notice(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session_factory)
    reply = await portal.get("/xx/events")
    html = await reply.text()
    assert reply.status == 200
    assert '<html lang="en"' in html
    assert "There is no page in the language “xx”; this is the English page." in html
    assert "Nauryz concert" in html


async def test_404_is_in_the_readers_language(portal: TestClient) -> None:
    reply = await portal.get("/nothing-here", headers={"Accept-Language": "ru"})
    assert reply.status == 404
    assert "Страница не найдена" in await reply.text()
    reply = await portal.get("/kk/organisations/999999")
    assert reply.status == 404
    assert "Бет табылмады" in await reply.text()


# --- directory -------------------------------------------------------------------------------

async def test_directory_search_folds_scripts_and_filters(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session_factory)

    async def names(query: str) -> str:
        reply = await portal.get(f"/en/directory?{query}")
        assert reply.status == 200
        return await reply.text()

    html = await names("q=Алматы")  # Cyrillic finds the Latin city
    assert "Qazaq Mádenı Ortalyǵy" in html and "İstanbul Türk Derneği" not in html
    html = await names("q=istanbul")  # dotless/dotted i folded
    assert "İstanbul Türk Derneği" in html and "Qazaq" not in html
    html = await names("q=казахский")  # a translated name
    assert "Qazaq Mádenı Ortalyǵy" in html
    assert "Closed Society" not in await names("q=closed")
    html = await names("country=TR")
    assert "İstanbul Türk Derneği" in html and "Qazaq" not in html
    html = await names("language=kk&category=cultural_centre")
    assert "Qazaq" in html and "İstanbul" not in html
    html = await names("city=ALMATY")
    assert "Qazaq" in html and "İstanbul" not in html
    assert "2 organisations found." in await names("")
    assert "1 organisation found." in await names("q=derne")


async def test_organisation_page_has_contacts_events_feed_and_follow_link(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    html = await (await portal.get(f"/ru/organisations/{ids['almaty']}")).text()
    assert "info@example.org" in html and "+7 727 000" in html and "https://t.me/qazaq_centre" in html
    assert "Nauryz concert" in html and "Secret pending plan" not in html
    assert f"https://t.me/{USERNAME}?start=o_{ids['almaty']}" in html
    assert f"/feeds/events.ics?organisation={ids['almaty']}" in html
    assert (await portal.get(f"/en/organisations/{ids['hidden']}")).status == 404
    (org,) = json_ld_of(html)
    assert org["@type"] == "Organization" and org["name"] == "Qazaq Mádenı Ortalyǵy"


# --- events ----------------------------------------------------------------------------------

async def test_events_list_filters(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session_factory)

    async def page(query: str) -> str:
        reply = await portal.get(f"/en/events?{query}")
        assert reply.status == 200
        return await reply.text()

    html = await page("")
    assert "Nauryz concert" in html and "Türk dili dersi" in html
    assert "Secret pending plan" not in html and "Hidden org party" not in html and "Called off picnic" not in html
    html = await page("city=Almaty")  # stored as «Алматы»
    assert "Nauryz concert" in html and "Türk dili dersi" not in html
    html = await page("country=TR&category=education")
    assert "Türk dili dersi" in html and "Nauryz" not in html
    day = (NOW + timedelta(days=9)).strftime("%Y-%m-%d")
    html = await page(f"from={day}")
    assert "Türk dili dersi" in html and "Nauryz" not in html
    html = await page(f"to={(NOW + timedelta(days=4)).strftime('%Y-%m-%d')}")
    assert "Nauryz concert" in html and "Türk dili dersi" not in html


async def test_event_page_json_ld_zone_ics_and_rsvp_link(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    reply = await portal.get(f"/kk/events/{ids['concert']}")
    html = await reply.text()
    assert reply.status == 200
    (event,) = json_ld_of(html)
    # schema.org's required properties for an Event (name, startDate, location with an address).
    assert event["@context"] == "https://schema.org" and event["@type"] == "Event"
    assert event["name"] == "Nauryz concert"
    start = datetime.fromisoformat(event["startDate"])
    assert start == NOW + timedelta(days=3)
    assert start.utcoffset() == timedelta(hours=5) or start.utcoffset() == timedelta(hours=6)  # Asia/Almaty
    assert event["location"]["@type"] == "Place" and event["location"]["address"]["addressLocality"] == "Алматы"
    assert event["eventStatus"] == "https://schema.org/EventScheduled"
    assert f"https://t.me/{USERNAME}?start=e_{ids['concert']}" in html
    assert "https://www.openstreetmap.org/?mlat=43.24000" in html
    assert 'data-venue-zone="Asia/Almaty"' in html  # the reader's zone is added by the page script
    assert "Music &amp; dance" in html
    ics = await portal.get(f"/events/{ids['concert']}.ics")
    assert ics.status == 200 and ics.content_type == "text/calendar"
    calendar = icalendar.Calendar.from_ical(await ics.read())
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Nauryz concert"
    assert vevent.decoded("DTSTART") == NOW + timedelta(days=3)
    for hidden in ("pending", "of_hidden"):
        assert (await portal.get(f"/en/events/{ids[hidden]}")).status == 404
        assert (await portal.get(f"/events/{ids[hidden]}.ics")).status == 404
    cancelled = await (await portal.get(f"/en/events/{ids['cancelled']}")).text()
    assert "This event has been cancelled." in cancelled and "start=e_" not in cancelled
    assert json_ld_of(cancelled)[0]["eventStatus"] == "https://schema.org/EventCancelled"


async def test_public_feeds_filter_and_parse(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)

    async def summaries(query: str) -> set[str]:
        reply = await portal.get(f"/feeds/events.ics?{query}")
        assert reply.status == 200 and reply.content_type == "text/calendar"
        calendar = icalendar.Calendar.from_ical(await reply.read())
        return {str(v["SUMMARY"]) for v in calendar.walk("VEVENT")}

    assert await summaries("") == {"Nauryz concert", "Türk dili dersi", "Called off picnic"}
    assert await summaries("city=almaty") == {"Nauryz concert"}
    assert await summaries("country=TR") == {"Türk dili dersi", "Called off picnic"}
    assert await summaries("language=kk") == {"Nauryz concert"}
    assert await summaries(f"organisation={ids['istanbul']}") == {"Türk dili dersi", "Called off picnic"}
    assert await summaries(f"organisation={ids['hidden']}") == set()


# --- bad input -------------------------------------------------------------------------------

async def test_junk_filters_and_huge_pages_give_normal_pages(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session_factory)
    for path in ("/en/directory?page=99999999999999&country=ZZZZ&language=klingon&category=%00",
                 "/en/events?page=-3&from=yesterday&to=2999-99-99&country=1&organisation=abc",
                 "/en/directory?q=%27%20OR%201%3D1%3B%20DROP%20TABLE%20organisations%3B--",
                 "/en/events?city=%27%3B%20DELETE%20FROM%20events%3B--",
                 "/feeds/events.ics?organisation=99999999999999999999&city=%25",
                 "/en/events?to=9999-12-31&from=0001-01-01&page=%C2%B2",
                 "/en/directory?page=%D9%A1%D9%A2&organisation=%C2%B2"):
        reply = await portal.get(path)
        assert reply.status == 200, path
    for path in ("/en/events/%C2%B2", "/en/organisations/%D9%A1%D9%A2", "/events/%C2%B2.ics", "/sitemaps/%C2%B2.xml"):
        assert (await portal.get(path)).status == 404, path
    assert "2 events found." in await (await portal.get("/en/events?page=99999")).text()
    async with session_factory() as session:
        from sqlalchemy import func, select

        assert await session.scalar(select(func.count()).select_from(Organisation)) == 3
        assert await session.scalar(select(func.count()).select_from(Event)) == 5


async def test_script_injected_in_every_reflected_parameter_is_escaped(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session_factory)
    from urllib.parse import quote

    x = quote(XSS)
    params = f"q={x}&city={x}&country={x}&category={x}&language={x}&from={x}&to={x}&page={x}&organisation={x}"
    for path in ("/en/directory", "/en/events", "/en/", "/en/atlas", "/en/privacy", f"/{x}/events", f"/en/{x}",
                 f"/{x}", f"/en/organisations/{x}", f"/en/events/{x}"):
        reply = await portal.get(f"{path}?{params}")
        html = await reply.text()
        assert reply.status in (200, 404), path
        assert XSS not in html and "<script>alert" not in html, path
    html = await (await portal.get(f"/en/directory?q={x}")).text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown back, escaped


# --- caching, sitemap, robots, the old routes ------------------------------------------------

async def test_etag_and_last_modified(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    first = await portal.get(f"/en/events/{ids['concert']}")
    tag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = await portal.get(f"/en/events/{ids['concert']}", headers={"If-None-Match": tag})
    assert again.status == 304
    other = await portal.get(f"/ru/events/{ids['concert']}", headers={"If-None-Match": tag})
    assert other.status == 200  # another language is another page


async def test_sitemap_robots_and_existing_routes(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "x": "http://www.w3.org/1999/xhtml"}
    index = ET.fromstring(await (await portal.get("/sitemap.xml")).read())
    (part,) = [element.text or "" for element in index.findall("s:sitemap/s:loc", ns)]
    assert part.endswith("/sitemaps/1.xml")
    reply = await portal.get("/sitemaps/1.xml")
    root = ET.fromstring(await reply.read())
    assert (await portal.get("/sitemaps/2.xml")).status == 404
    locs = [element.text or "" for element in root.findall("s:url/s:loc", ns)]
    assert any(loc.endswith(f"/en/events/{ids['concert']}") for loc in locs)
    assert any(loc.endswith(f"/en/organisations/{ids['almaty']}") for loc in locs)
    assert not any(loc.endswith(f"/events/{ids['pending']}") or loc.endswith(f"/organisations/{ids['hidden']}") for loc in locs)
    assert len(root.find("s:url", ns).findall("x:link", ns)) == 8  # type: ignore[union-attr]
    robots = await (await portal.get("/robots.txt")).text()
    assert "Sitemap: " in robots and "Disallow: /api/" in robots
    atlas = await portal.get("/atlas.json")
    assert atlas.status == 200 and (await atlas.json())["schema"].startswith("kardes-atlas")
    assert (await portal.get("/ical/not-a-valid-token.ics")).status == 404


async def test_start_http_serves_healthz_and_the_portal(session_factory, database_url, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import aiohttp

    from bot.web import public_routes, start_http

    monkeypatch.setenv("BOT_USERNAME", USERNAME)
    settings = load_settings(database_url=database_url, bot_token=TOKEN)
    runner = await start_http(public_routes(session_factory, settings), "127.0.0.1", 0)
    try:
        port = runner.addresses[0][1]
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/healthz") as reply:
                assert (await reply.json()) == {"ok": True}
            async with http.get(f"http://127.0.0.1:{port}/tr/") as reply:
                assert reply.status == 200 and "Yaklaşan etkinlikler" in await reply.text()
    finally:
        await runner.cleanup()


# --- the Atlas -------------------------------------------------------------------------------

@pytest.mark.slow
async def test_atlas_page_map_and_downloads(portal: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    await seed(session_factory)
    async with session_factory() as session:
        for n in range(300):  # enough that Kazakhstan is listed in a noisy release
            session.add(Member(telegram_id=5000 + n, locale="kk", registered_at=NOW - timedelta(days=40), country_code="KZ",
                               city_name="Almaty", origin_country="KZ", languages=["kk"], interests=["culture"]))
        await session.commit()
        from bot.services.atlas import make_release

        await make_release(session, epsilon=5.0, lifetime=10.0, trigger="cli")
        await session.commit()  # the caller's transaction
    html = await (await portal.get("/ru/atlas")).text()
    assert "Атлас диаспоры" in html and "Участники по странам" in html and "Казахстан" in html
    assert 'src="/atlas/map.svg?v=' in html and 'alt="' in html
    assert "/atlas.csv" in html and "/atlas.json" in html and "CC BY 4.0" in html
    svg = await portal.get("/atlas/map.svg")
    body = await svg.text()
    assert svg.content_type == "image/svg+xml" and body.startswith("<svg")
    assert re.search(r"\.kz\{fill:#[0-9a-f]{6}\}", body) and "c2pa" not in body
    rows = list(csv.DictReader(io.StringIO(await (await portal.get("/atlas.csv")).text())))
    assert {"table": "members_by_country", "key": "KZ"}.items() <= rows[0].items() or \
        any(r["table"] == "members_by_country" and r["key"] == "KZ" for r in rows)
    catalog = await (await portal.get("/atlas/catalog.json")).json()
    assert catalog["@type"] == "dcat:Catalog"
    atlas_set = catalog["dcat:dataset"][0]
    assert atlas_set["dct:license"].startswith("https://creativecommons.org/")
    assert {d["dcat:mediaType"] for d in atlas_set["dcat:distribution"]} == {"application/json", "text/csv"}
    assert atlas_set["dct:issued"]


async def test_atlas_page_shows_margins_of_a_noisy_release(portal: TestClient, monkeypatch) -> None:
    document = {"schema": "kardes-atlas/2", "generated_at": "2030-01-15T12:00:00Z", "mechanism": "geometric",
                "epsilon": 1.0,
                "members_by_country": [{"country": "DE", "members": 120, "margin95": 6},
                                       {"country": "KZ", "members": None, "suppressed": True, "reason": "small"}],
                "members_by_language": [{"language": "kk", "members": 40, "margin95": 6}]}

    async def fake_public_atlas(session, min_cell=5, **kwargs):  # type: ignore[no-untyped-def]
        return document

    monkeypatch.setattr("bot.services.atlas.public_atlas", fake_public_atlas)
    html = await (await portal.get("/en/atlas")).text()
    assert "± 6" in html and "geometric" in html and "ε = 1.0" in html
    assert "fewer than 5" in html and "Germany" in html
    assert "margin of error at 95 percent confidence" in html
