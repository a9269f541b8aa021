"""The weekly digest with a controllable clock: Monday 09:00 in the member's own time zone, once."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from bot.app import create_bot
from bot.i18n import create_i18n
from sandbox.client import SandboxUser
from db.models import Event, Follow, Member, Organisation
from jobs.context import JobContext
from jobs.digest import run_digest

I18N = create_i18n()
MONDAY_0859_ALMATY = datetime(2026, 11, 30, 3, 59, tzinfo=timezone.utc)  # Almaty is UTC+5


async def test_digest_goes_out_on_monday_morning_local_time_once(bot_settings, session, session_factory, client) -> None:  # type: ignore[no-untyped-def]
    almaty = Organisation(name="Qazaq Üyi", category="cultural_centre", latitude=43.24, longitude=76.90, city="Almaty", country_code="KZ")
    far = Organisation(name="Far Club", category="association", latitude=51.13, longitude=71.43, city="Astana", country_code="KZ")
    other = Organisation(name="Other Club", category="association", latitude=51.13, longitude=71.43, city="Astana", country_code="KZ")
    session.add_all([almaty, far, other])
    await session.flush()
    soon = MONDAY_0859_ALMATY + timedelta(days=2)
    session.add_all([
        Event(organisation_id=almaty.id, title="Nauryz <concert>", starts_at=soon, timezone="Asia/Almaty", latitude=43.24, longitude=76.90, status="approved"),
        Event(organisation_id=far.id, title="Followed club night", starts_at=soon, timezone="Asia/Almaty", latitude=51.13, longitude=71.43, status="approved"),
        Event(organisation_id=other.id, title="Unfollowed far event", starts_at=soon, timezone="Asia/Almaty", latitude=51.14, longitude=71.44, status="approved"),
        Event(organisation_id=almaty.id, title="Next month", starts_at=soon + timedelta(days=30), timezone="Asia/Almaty", latitude=43.24, longitude=76.90, status="approved"),
    ])
    member = Member(telegram_id=8001, locale="kk", timezone="Asia/Almaty", latitude=43.25, longitude=76.92, radius_km=25,
                    digest_weekly=True, registered_at=MONDAY_0859_ALMATY - timedelta(days=30))
    session.add(member)
    await session.flush()
    session.add(Follow(member_id=member.id, organisation_id=far.id))
    await session.commit()
    await client.register(SandboxUser(8001, "Aru", language_code="kk"))
    bot = create_bot(bot_settings)
    try:
        context = JobContext(bot_settings, session_factory, bot, I18N)
        assert await run_digest(context, MONDAY_0859_ALMATY) == 0
        assert await run_digest(context, MONDAY_0859_ALMATY + timedelta(minutes=1)) == 1
        assert await run_digest(context, MONDAY_0859_ALMATY + timedelta(hours=3)) == 0, "once a week"
    finally:
        await bot.session.close()
    said = [e["plain"] for e in await client.transcript(8001) if e["type"] == "message"]
    assert len(said) == 1
    assert said[0].startswith(I18N.gettext("<b>This week near you</b>", locale="kk").replace("<b>", "").replace("</b>", ""))
    assert "Nauryz <concert>" in said[0] and "Followed club night" in said[0]
    assert "Unfollowed far event" not in said[0] and "Next month" not in said[0]
