"""Processes and persistence: the demo script, the scheduler's job store, Redis FSM storage."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from db.models import FsmRecord
from db.types import utcnow
from jobs.housekeeping import purge_abandoned
from jobs.scheduler import create_scheduler, install_standing_jobs
from tests.conftest import ROOT
from tests.harness import RunningBot, kardes


@pytest.mark.slow
def test_demo_script_greets_and_switches_language(tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "chat.txt"
    script.write_text("# a member from Almaty\n/start\n3\n/as 2 tr\n/start\n/quit\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("DATABASE_URL", None)
    result = subprocess.run([sys.executable, "-m", "bot", "demo", "--script", str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "> /start" in out and "[3] Қазақ тілі" in out
    i18n = create_i18n()
    switched = i18n.gettext("Language set: English. Send /help to see what I can do.", locale="kk")
    assert f"bot: (edited) {switched}" in out, "pressing 3 switched the chat to Kazakh"
    assert "Sizinle Türkçe konuşacağım" in out, "user 2 with a Turkish Telegram is greeted in Turkish"
    assert (tmp_path / "data" / "kardes.sqlite3").exists()
    assert re.search(r"^Portal: http://127\.0\.0\.1:\d+/ ", out, re.M), "the demo says where its portal is"


async def test_abandoned_conversations_are_forgotten_after_30_days(session) -> None:  # type: ignore[no-untyped-def]
    session.add_all([
        FsmRecord(key="1:5:5:0::default", state="Registration:name", data={}, updated_at=utcnow() - timedelta(days=31)),
        FsmRecord(key="1:6:6:0::default", state="Registration:name", data={}, updated_at=utcnow() - timedelta(days=2)),
    ])
    await session.commit()
    assert await purge_abandoned(session) == 1
    await session.commit()
    assert list(await session.scalars(select(FsmRecord.key))) == ["1:6:6:0::default"]


async def test_standing_jobs_are_installed_afresh_at_each_start_and_never_twice() -> None:
    # The job store is in memory (jobs/scheduler.py says why): every start installs the standing
    # jobs again, the times that matter are in the domain tables.
    for _ in range(2):
        scheduler = create_scheduler()
        scheduler.start(paused=True)
        try:
            install_standing_jobs(scheduler)
            install_standing_jobs(scheduler)  # installing again replaces, never duplicates
            ids = [job.id for job in scheduler.get_jobs()]
            assert {"housekeeping.purge_abandoned", "announcements.tick", "events.reminders", "digest.weekly",
                    "freshness.ask_representatives", "freshness.catch_up", "atlas.release",
                    "org_channels.tick"} == set(ids)
            assert len(ids) == len(set(ids))
        finally:
            scheduler.shutdown(wait=False)


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="TEST_REDIS_URL is not set (CI sets it)")
async def test_with_redis_a_restart_mid_registration_resumes(bot_settings, client, session_factory, redis_url) -> None:  # type: ignore[no-untyped-def]
    from redis.asyncio import Redis

    url = redis_url
    redis = Redis.from_url(url)
    await redis.flushdb()
    await redis.aclose()
    settings = bot_settings.model_copy(update={"redis_url": url})
    user = SandboxUser(4001, "Aliya", language_code="kk")
    first = await RunningBot(settings).start()
    await client.send(user, "/start")
    last = await client.last_message(user.id)
    await client.press(user, next(t for row in client.buttons(last) for t, _ in row if t.endswith("Қазақ тілі")))
    await first.stop()
    second = await RunningBot(settings).start()
    try:
        replies = await client.send(user, "hello")  # still at the privacy notice: buttons expected
        assert replies[-1]["plain"] == second.app.i18n.gettext("Please choose with the buttons above.", locale="kk")
    finally:
        await second.stop()
    async with session_factory() as session:
        assert list(await session.scalars(select(FsmRecord.key))) == [], "with Redis, FSM state is not in the database"


async def test_import_command_reports_bad_rows_and_imports_nothing_then_round_trips(database_url, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from db.models import Organisation

    good = "ext-1,Berlin Türk Kültür Merkezi,cultural_centre,DE,Berlin,52.5,13.4,tr"
    bad = "ext-2,Far Away,association,DE,Berlin,91.0,13.4,tr"
    source = tmp_path / "orgs.csv"
    source.write_text(f"external_id,name,category,country_code,city,latitude,longitude,languages\n{good}\n{bad}\n", encoding="utf-8")
    refused = await asyncio.to_thread(kardes, ["import", "orgs", str(source)], database_url)
    assert refused.returncode == 1
    assert "line 3" in refused.stdout and "ext-2" in refused.stdout
    assert await session.scalar(select(func.count()).select_from(Organisation)) == 0
    partial = await asyncio.to_thread(kardes, ["import", "orgs", str(source), "--skip-bad"], database_url)
    assert partial.returncode == 0, partial.stderr
    assert list(await session.scalars(select(Organisation.external_id))) == ["ext-1"]
    exported = tmp_path / "out.json"
    done = await asyncio.to_thread(kardes, ["export", "orgs", str(exported)], database_url)
    assert done.returncode == 0 and "exported 1" in done.stdout
    again = await asyncio.to_thread(kardes, ["import", "orgs", str(exported)], database_url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert await session.scalar(select(func.count()).select_from(Organisation)) == 1


async def test_announce_command_schedules_counts_and_refuses(database_url, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from db.models import Announcement, Member

    session.add_all([Member(telegram_id=7001, registered_at=utcnow(), country_code="KZ", locale="kk"),
                     Member(telegram_id=7002, registered_at=utcnow(), country_code="DE", locale="tr")])
    await session.commit()
    dry = await asyncio.to_thread(kardes, ["announce", "--text", "Hello", "--text-kk", "Сәлем", "--audience", "countries=KZ", "--dry-run"], database_url)
    assert dry.returncode == 0 and dry.stdout.strip() == "dry run: announcement - audience 1"
    assert await session.scalar(select(func.count()).select_from(Announcement)) == 0
    made = await asyncio.to_thread(kardes, ["announce", "--text", "Hello", "--at", "2099-01-01T10:00+05:00"], database_url)
    assert made.returncode == 0, made.stderr
    announcement_id = int(made.stdout.split()[1])
    assert made.stdout.strip().endswith("audience 2")
    status = await asyncio.to_thread(kardes, ["announce", "status", str(announcement_id)], database_url)
    assert status.stdout.startswith(f"id {announcement_id} status scheduled total 0 sent 0")
    too_long = await asyncio.to_thread(kardes, ["announce", "--text", "x" * 5000], database_url)
    assert too_long.returncode == 1 and "too_long" in too_long.stderr and "5000" in too_long.stderr
    past = await asyncio.to_thread(kardes, ["announce", "--text", "Hi", "--at", "2020-01-01T10:00+00:00"], database_url)
    assert past.returncode == 1 and "past" in past.stderr


async def test_the_web_process_serves_the_public_atlas(bot_settings, session_factory) -> None:  # type: ignore[no-untyped-def]
    import socket

    import aiohttp

    from bot.web import public_routes, start_http

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    runner = await start_http(public_routes(session_factory, bot_settings), "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/atlas.json") as response:
                assert response.status == 200
                data = await response.json()
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200
        assert data["schema"] == "kardes-atlas/2" and data["release"] is None  # no release made yet
    finally:
        await runner.cleanup()


async def test_grant_and_revoke_commands(database_url, session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from db.models import Member, Organisation, Role

    member = Member(telegram_id=7101, registered_at=utcnow())
    organisation = Organisation(name="Dom", category="association")
    session.add_all([member, organisation])
    await session.commit()
    org_id = organisation.id
    granted = await asyncio.to_thread(kardes, ["grant", "7101", str(org_id)], database_url)
    assert granted.returncode == 0, granted.stderr
    assert await session.scalar(select(func.count()).select_from(Role)) == 1
    unknown = await asyncio.to_thread(kardes, ["grant", "999", str(org_id)], database_url)
    assert unknown.returncode == 1 and "no registered member with Telegram id 999" in unknown.stderr
    revoked = await asyncio.to_thread(kardes, ["revoke", "7101", str(org_id)], database_url)
    assert revoked.returncode == 0
    assert await session.scalar(select(func.count()).select_from(Role)) == 0


def test_db_upgrade_works_in_a_fresh_checkout_without_a_data_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"} | {"PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "data" / "kardes.sqlite3").exists()
