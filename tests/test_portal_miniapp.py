"""The Mini App: Telegram's initData checked with real HMAC-SHA256 vectors; RSVP, follow, "My events"."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlencode

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.config import load_settings
from bot.portal.initdata import verify_init_data
from db.models import Event, EventStatus, Follow, Member, Organisation, Rsvp

TOKEN = "7000001:AAH-portal-miniapp-token"
OTHER_TOKEN = "7000002:AAH-someone-elses-bot"
USER_ID = 424242
NOW = datetime.now(timezone.utc).replace(second=0, microsecond=0)


def init_data(token: str, *, user_id: int = USER_ID, auth_date: int | None = None, language: str = "ru") -> str:
    """initData as Telegram builds it: fields, then hash = HMAC(HMAC("WebAppData", token), check string)."""
    fields = {
        "auth_date": str(int(time.time()) if auth_date is None else auth_date),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": user_id, "first_name": "Aigerim", "language_code": language}, separators=(",", ":")),
    }
    check = "\n".join(f"{key}={fields[key]}" for key in sorted(fields))
    secret = hmac.new(key=b"WebAppData", msg=token.encode(), digestmod=hashlib.sha256).digest()
    fields["hash"] = hmac.new(key=secret, msg=check.encode(), digestmod=hashlib.sha256).hexdigest()
    return urlencode(fields, quote_via=quote)


def test_known_vector() -> None:
    # Computed independently: secret = HMAC_SHA256(key="WebAppData", msg=token); hash over the check string.
    token = "12345:test"
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    check = "auth_date=1700000000\nuser={\"id\":1}"
    expected = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    raw = f"user={quote(chr(123) + chr(34) + 'id' + chr(34) + ':1}')}&auth_date=1700000000&hash={expected}"
    user = verify_init_data(raw, token, max_age=3600, now=1700000100)
    assert user is not None and user.id == 1


def test_valid_tampered_stale_and_foreign_init_data() -> None:
    good = init_data(TOKEN)
    user = verify_init_data(good, TOKEN, max_age=3600)
    assert user is not None and user.id == USER_ID and user.language_code == "ru"
    # One character of the hash changed.
    position = good.index("hash=") + 5
    flipped = good[:position] + ("0" if good[position] != "0" else "1") + good[position + 1:]
    assert verify_init_data(flipped, TOKEN, max_age=3600) is None
    # One character of the signed data changed (another user id).
    assert verify_init_data(good.replace(str(USER_ID), str(USER_ID + 1)), TOKEN, max_age=3600) is None
    # Too old, and from the future.
    assert verify_init_data(init_data(TOKEN, auth_date=int(time.time()) - 7200), TOKEN, max_age=3600) is None
    assert verify_init_data(init_data(TOKEN, auth_date=int(time.time()) + 3600), TOKEN, max_age=3600) is None
    # Signed for another bot.
    assert verify_init_data(init_data(OTHER_TOKEN), TOKEN, max_age=3600) is None
    # No hash, a repeated field, garbage.
    assert verify_init_data(good.split("&hash=")[0], TOKEN, max_age=3600) is None
    assert verify_init_data(good + "&auth_date=1", TOKEN, max_age=3600) is None
    assert verify_init_data("%%%", TOKEN, max_age=3600) is None
    assert verify_init_data("", TOKEN, max_age=3600) is None


@pytest.fixture
async def app_client(session_factory, database_url, monkeypatch) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BOT_USERNAME", "kardes_test_bot")
    monkeypatch.setenv("WEBAPP_AUTH_MAX_AGE", "3600")
    from bot.web import public_routes

    settings = load_settings(database_url=database_url, bot_token=TOKEN, telegram_api_base="http://127.0.0.1:9")
    app = web.Application()
    app.add_routes(public_routes(session_factory, settings))
    async with TestClient(TestServer(app)) as client:
        yield client


async def seed(session_factory, *, capacity: int | None = None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with session_factory() as session:
        member = Member(telegram_id=USER_ID, locale="ru", registered_at=NOW - timedelta(days=3), timezone="Asia/Almaty",
                        country_code="KZ", city_name="Almaty")
        org = Organisation(name="Qazaq Centre", category="cultural_centre", country_code="KZ", city="Almaty")
        session.add_all([member, org])
        await session.flush()
        event = Event(organisation_id=org.id, title="Nauryz concert", starts_at=NOW + timedelta(days=2, hours=1),
                      timezone="Europe/Berlin", city="Almaty", country_code="KZ", latitude=43.24, longitude=76.95,
                      status=EventStatus.APPROVED.value, capacity=capacity)
        session.add(event)
        await session.commit()
        return {"member": member.id, "org": org.id, "event": event.id}


async def rows(session_factory, model) -> int:  # type: ignore[no-untyped-def]
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_forged_stale_and_foreign_init_data_are_refused_and_change_nothing(app_client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    good = init_data(TOKEN)
    position = good.index("hash=") + 6
    forged = good[:position] + ("a" if good[position] != "a" else "b") + good[position + 1:]
    for header in (forged, init_data(TOKEN, auth_date=int(time.time()) - 4000), init_data(OTHER_TOKEN), ""):
        for action, body in (("rsvp", {"event_id": ids["event"], "status": "going"}),
                             ("follow", {"organisation_id": ids["org"]}), ("my-events", {})):
            reply = await app_client.post(f"/api/app/{action}", json=body, headers={"X-Telegram-Init-Data": header})
            assert reply.status == 401
            assert not (await reply.json())["ok"]
    assert await rows(session_factory, Rsvp) == 0
    assert await rows(session_factory, Follow) == 0


async def test_rsvp_follow_and_my_events_in_the_members_language_and_zone(app_client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    headers = {"X-Telegram-Init-Data": init_data(TOKEN, language="en")}
    reply = await app_client.post("/api/app/rsvp", json={"event_id": ids["event"], "status": "going"}, headers=headers)
    payload = await reply.json()
    assert reply.status == 200 and payload["ok"]
    assert payload["message"] == "Вы идёте. До встречи!"  # the member chose Russian in the bot
    async with session_factory() as session:
        rsvp = await session.scalar(select(Rsvp).where(Rsvp.event_id == ids["event"]))
        assert rsvp is not None and rsvp.status == "going"
    reply = await app_client.post("/api/app/follow", json={"organisation_id": ids["org"]}, headers=headers)
    assert (await reply.json())["following"] is True
    reply = await app_client.post("/api/app/follow", json={"event_id": ids["event"]}, headers=headers)
    assert reply.status == 200  # the city the event is in
    assert await rows(session_factory, Follow) == 2
    mine = await (await app_client.post("/api/app/my-events", json={}, headers=headers)).json()
    assert mine["count"] == 1 and "Nauryz concert" in mine["html"]
    # Shown in the member's zone (Almaty), not the venue's (Berlin).
    from zoneinfo import ZoneInfo

    from babel.dates import format_date, format_time

    local = (NOW + timedelta(days=2, hours=1)).astimezone(ZoneInfo("Asia/Almaty"))
    assert f"{format_date(local, 'medium', locale='ru')}, {format_time(local, 'short', locale='ru')}" in mine["html"]
    assert "Я пойду" in mine["html"]


async def test_bad_requests_and_unregistered_members(app_client: TestClient, session_factory) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(session_factory)
    headers = {"X-Telegram-Init-Data": init_data(TOKEN)}
    for body in ({"event_id": ids["event"], "status": "dancing"}, {"event_id": "<script>", "status": "going"}, [1, 2]):
        reply = await app_client.post("/api/app/rsvp", json=body, headers=headers)
        assert reply.status == 400
        assert (await reply.json())["message"] == "Этот запрос недействителен."
    reply = await app_client.post("/api/app/rsvp", json={"event_id": 999999, "status": "going"}, headers=headers)
    assert reply.status == 404
    stranger = {"X-Telegram-Init-Data": init_data(TOKEN, user_id=777, language="kk")}
    reply = await app_client.post("/api/app/rsvp", json={"event_id": ids["event"], "status": "going"}, headers=stranger)
    assert reply.status == 403
    assert "/start" in (await reply.json())["message"] and "ботта" in (await reply.json())["message"]
    assert await rows(session_factory, Rsvp) == 0


async def test_app_page_opens_without_init_data(app_client: TestClient) -> None:
    reply = await app_client.get("/ky/app")
    html = await reply.text()
    assert reply.status == 200 and "Менин иш-чараларым" in html
    assert reply.headers["X-Robots-Tag"] == "noindex"


async def test_menu_button_is_set_when_a_portal_url_is_configured(sandbox, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_bot
    from bot.portal.menu import set_menu_button
    from bot.portal.settings import PortalSettings

    settings = load_settings(bot_token=sandbox.token, telegram_api_base=sandbox.base_url)
    bot = create_bot(settings)
    try:
        assert await set_menu_button(bot, PortalSettings(portal_url=None), "en") is False
        assert await set_menu_button(bot, PortalSettings(portal_url="https://portal.example.org"), "en") is True
        button = await bot.get_chat_menu_button()
        assert button.type == "web_app"
        assert button.web_app.url == "https://portal.example.org/en/app"  # type: ignore[union-attr]
    finally:
        await bot.session.close()


async def test_a_freed_place_goes_to_the_waitlist_and_the_bot_tells_them(sandbox, client, session_factory,  # type: ignore[no-untyped-def]
                                                                          database_url, monkeypatch) -> None:
    from sandbox.client import SandboxUser
    from bot.web import public_routes

    monkeypatch.setenv("BOT_USERNAME", "kardes_test_bot")
    ids = await seed(session_factory, capacity=1)
    waiting = SandboxUser(id=515151, first_name="Nurlan", language_code="kk")
    await client.register(waiting)
    async with session_factory() as session:
        second = Member(telegram_id=waiting.id, locale="kk", registered_at=NOW, timezone="Asia/Almaty")
        session.add(second)
        await session.commit()
    settings = load_settings(database_url=database_url, bot_token=sandbox.token, telegram_api_base=sandbox.base_url)
    app = web.Application()
    app.add_routes(public_routes(session_factory, settings))
    async with TestClient(TestServer(app)) as http:
        first = {"X-Telegram-Init-Data": init_data(sandbox.token)}
        other = {"X-Telegram-Init-Data": init_data(sandbox.token, user_id=waiting.id, language="kk")}
        body = {"event_id": ids["event"], "status": "going"}
        assert (await (await http.post("/api/app/rsvp", json=body, headers=first)).json())["waitlisted"] is False
        reply = await (await http.post("/api/app/rsvp", json=body, headers=other)).json()
        assert reply["waitlisted"] is True and reply["message"] == "Іс-шарада орын жоқ: сіз күту тізіміндесіз."
        await http.post("/api/app/rsvp", json={"event_id": ids["event"], "status": "not_going"}, headers=first)
    # The portal only queues the news (in the answer's transaction); the worker's next tick sends it.
    from bot.app import create_bot
    from bot.i18n import create_i18n
    from jobs import event_news
    from jobs.context import JobContext

    bot = create_bot(settings)
    try:
        assert await event_news.tick(JobContext(settings, session_factory, bot, create_i18n())) == 1
    finally:
        await bot.session.close()
    entries = await client.wait_for(waiting.id, lambda found: any("Nauryz concert" in (e.get("text") or "") for e in found))
    told = [e["text"] for e in entries if "Nauryz concert" in (e.get("text") or "")]
    assert told and told[0].startswith("🎉")
    async with session_factory() as session:
        rsvp = await session.scalar(select(Rsvp).join(Member, Member.id == Rsvp.member_id).where(Member.telegram_id == waiting.id))
        assert rsvp is not None and rsvp.waitlisted is False and rsvp.status == "going"
