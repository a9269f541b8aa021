"""One rule for web addresses: the event form, the importer and announcements agree on every link.

The cases are those where the three validators used to disagree (a bare host, an upper-case
scheme, a dot only in the path, an apostrophe, an overlong link, a broken IPv6 host, a bad port);
each is now accepted or refused by all three alike, and each refusal keeps its own message.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from bot.i18n import create_i18n
from bot.services import events as ev
from bot.services.announcements import AnnouncementError, Draft, schedule
from bot.services.importer import import_events
from bot.services.validate import InvalidLink, clean_link
from bot.views.events import reason_text
from db.models import Announcement, Event, Organisation
from tests.factories import add_member

I18N = create_i18n()

ACCEPTED = [
    ("example.org/x", "https://example.org/x"),  # the form completed it; the importer and announcements refused it
    ("HTTPS://Example.org/Tickets", "HTTPS://Example.org/Tickets"),  # the announcements' regex refused it
    ("https://example.org/o'brien", "https://example.org/o'brien"),  # the importer refused it
    ("  https://example.org/a?b=1#c  ", "https://example.org/a?b=1#c"),
]
REFUSED = [
    "https://localhost/index.html",  # a dot only in the path: the announcements' regex accepted it
    "https://example.org/" + "x" * 300,  # longer than the column: the importer's own check aside, accepted by announcements
    "https://[::1",  # the importer crashed on it (urlsplit raises)
    "https://example.org:99999/",  # a port out of range: accepted by all three, refused by Telegram's buttons
    "https://example..org/",
    "javascript:alert(1)",
    "ftp://example.org",
    "https://exa mple.org",
    'https://example.org/"><b>',
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_the_rule_accepts_these_links(raw: str, expected: str) -> None:
    assert clean_link(raw) == expected
    assert ev.clean_link(raw) == expected, "the event form's name for it (other modules import it)"


@pytest.mark.parametrize("raw", REFUSED)
def test_the_rule_refuses_these_links_and_the_form_says_why(raw: str) -> None:
    with pytest.raises(InvalidLink):
        clean_link(raw)
    with pytest.raises(ev.InvalidEventField) as error:
        ev.clean_link(raw)
    with I18N.context(), I18N.use_locale("kk"):
        assert reason_text(error.value.reason) == I18N.gettext(
            "That does not look like a web link. Please send a link such as https://example.org, or skip.", locale="kk")


async def test_announcements_follow_the_same_rule(session) -> None:  # type: ignore[no-untyped-def]
    await add_member(session, 12_001)
    for raw, expected in ACCEPTED:
        announcement = await schedule(session, Draft(texts={"en": "Hello"}, audience={}, link_url=raw), None)
        assert announcement.link_url == expected
    for raw in REFUSED:
        with pytest.raises(AnnouncementError) as error:
            await schedule(session, Draft(texts={"en": "Hello"}, audience={}, link_url=raw), None)
        assert error.value.code == "link"
    assert await session.scalar(select(func.count()).select_from(Announcement)) == len(ACCEPTED)


async def test_the_importer_follows_the_same_rule_and_reports_the_line(session, tmp_path) -> None:  # type: ignore[no-untyped-def]
    session.add(Organisation(external_id="host", name="Host", category="cultural_centre", latitude=52.52, longitude=13.40,
                             city="Berlin", country_code="DE"))
    await session.commit()
    base = {"organisation_external_id": "host", "starts_at": "2030-03-21T19:00:00+01:00", "timezone": "Europe/Berlin",
            "category": "culture"}
    rows = [{**base, "title": f"Good {n}", "link": raw} for n, (raw, _) in enumerate(ACCEPTED)]
    rows += [{**base, "title": f"Bad {n}", "link": raw} for n, raw in enumerate(REFUSED)]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    report = await import_events(session, path, skip_bad=True)
    # "Bad 1" (301+ characters) is refused by the importer's column check before the rule; the rest by the rule.
    assert len(report.errors) == len(REFUSED)
    assert sum("(an http(s):// address)" in problem.reason for problem in report.errors) == len(REFUSED) - 1
    assert [problem.line for problem in report.errors] == sorted(problem.line for problem in report.errors)
    stored = {event.title: event.link for event in await session.scalars(select(Event))}
    assert stored == {f"Good {n}": expected for n, (_, expected) in enumerate(ACCEPTED)}
