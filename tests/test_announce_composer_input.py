"""The /announce composer's typed answers and its draft, read by bot/services/announce_composer
without a bot or a database: what each answer becomes, why a bad one is refused, and how a
repeat is stored (the `daily@HH:MM@Zone` string the scheduler reads back)."""

from __future__ import annotations

from datetime import datetime, time, timezone

import pytest

from bot.geo import get_gazetteer
from bot.services import announce_composer as composer
from bot.services.announcements import AnnouncementError, next_occurrence, parse_recurrence, recurrence_text
from db.models import Announcement, AnnouncementStatus

NOW = datetime(2030, 3, 1, 12, 0, tzinfo=timezone.utc)


def refused(call, *args) -> AnnouncementError:  # type: ignore[no-untyped-def]
    with pytest.raises(AnnouncementError) as caught:
        call(*args)
    return caught.value


# --- the audience ----------------------------------------------------------------------------

def test_a_radius_around_coordinates_or_a_city() -> None:
    assert composer.read_radius("52.52 13.40 50") == {"lat": 52.52, "lon": 13.4, "km": 50}
    berlin = get_gazetteer().search("Berlin", limit=1)[0]
    assert composer.read_radius("Berlin 30") == {"lat": berlin.latitude, "lon": berlin.longitude, "km": 30}
    assert composer.read_radius("Frankfurt am Main 12.5")["km"] == 12.5, "a city of several words, a decimal radius"


@pytest.mark.parametrize("typed", ["95 13.4 50", "52.52 200 50", "Berlin", "Berlin zero", "Qwxzv 20", "Berlin 0",
                                   "Berlin 20001", "52.52 x 50", ""])
def test_a_radius_off_the_globe_unreadable_or_out_of_range_is_refused(typed: str) -> None:
    assert refused(composer.read_radius, typed).code == "radius"


def test_countries_are_read_in_any_language_and_an_unknown_one_is_named() -> None:
    assert composer.read_places("countries", "Almanya, France", "en") == ["DE", "FR"]
    assert composer.read_places("origins", "Казахстан", "ru") == ["KZ"]
    error = refused(composer.read_places, "countries", "Germany, Atlantis, Narnia", "en")
    assert (error.code, error.details) == ("not_found", {"names": ["Atlantis", "Narnia"]})


def test_nothing_typed_is_named_as_typed() -> None:
    assert refused(composer.read_places, "cities", " , ", "en").details == {"names": [" , "]}


def test_cities_become_their_ids() -> None:
    berlin = get_gazetteer().search("Berlin", limit=1)[0]
    assert composer.read_criterion("cities", "Berlin", "en") == [berlin.geoname_id]
    assert composer.read_criterion("radius", "Berlin 5", "en")["km"] == 5


def test_a_toggle_adds_then_removes_and_an_empty_list_is_no_criterion() -> None:
    audience = composer.toggled({"countries": ["DE"]}, "languages", "kk")
    assert audience == {"countries": ["DE"], "languages": ["kk"]}
    assert composer.toggled(composer.toggled(audience, "languages", "tr"), "languages", "kk") == {"countries": ["DE"], "languages": ["tr"]}
    assert composer.toggled(audience, "languages", "kk") == {"countries": ["DE"]}


# --- when ------------------------------------------------------------------------------------

def test_a_moment_is_read_in_the_secretarys_zone() -> None:
    assert composer.read_moment("25.12.2030 18:30", "Europe/Berlin", NOW) == {"mode": "at", "at": "2030-12-25T17:30:00+00:00"}


@pytest.mark.parametrize(("typed", "code"), [("someday", "date"), ("31.02.2031 10:00", "date"),
                                             ("30.03.2031 02:30", "date"),  # skipped by Berlin's clock change
                                             ("01.01.2020 10:00", "past"), ("01.03.2030 12:00", "past")])
def test_a_bad_or_past_moment_is_refused(typed: str, code: str) -> None:
    assert refused(composer.read_moment, typed, "Europe/Berlin", NOW).code == code


def test_a_repeat_reads_the_time_of_day() -> None:
    assert composer.read_repeat("daily", "8.05", "Europe/Berlin") == {"mode": "daily", "clock": "08:05", "weekday": 0}
    assert composer.read_repeat("weekly", "21:30", "Europe/Berlin", 4) == {"mode": "weekly", "clock": "21:30", "weekday": 4}
    assert refused(composer.read_repeat, "daily", "9 o'clock", "Europe/Berlin").code == "clock"
    assert refused(composer.read_repeat, "weekly", "09:00", "America/Los_Angeles", 4).code == "recurrence"


# --- the link and the photo --------------------------------------------------------------------

def test_a_link_gets_a_scheme_and_a_label() -> None:
    assert composer.read_link("https://example.org Read more") == ("https://example.org", "Read more")
    assert composer.read_link("  example.org/news ") == ("https://example.org/news", "https://example.org/news")
    assert len(composer.read_link("https://example.org " + "x" * 100)[1]) == composer.LINK_TEXT_MAX
    for bad in ("example Read", "javascript:alert(1) Read", "ftp://example.org Read", ""):
        assert refused(composer.read_link, bad).code == "link", bad


def test_a_text_too_long_for_a_caption_is_refused_with_its_length() -> None:
    composer.check_captions({"en": "x" * 1024})
    error = refused(composer.check_captions, {"en": "short", "kk": "x" * 1500})
    assert (error.code, error.details) == ("too_long", {"length": 1500, "limit": 1024})


# --- the stored repeat -------------------------------------------------------------------------

def test_a_daily_draft_is_stored_in_the_format_the_scheduler_reads() -> None:
    composed = {**composer.blank(), "texts": {"en": "Hi"}, "when": {"mode": "daily", "clock": "08:00", "weekday": 3}}
    draft = composer.to_draft(composed, "Europe/Berlin")
    assert draft.recurrence == "daily@08:00@Europe/Berlin" and draft.send_at is None
    assert parse_recurrence(draft.recurrence) == ("daily", None, time(8, 0), "Europe/Berlin")
    assert next_occurrence(draft.recurrence, NOW) == datetime(2030, 3, 2, 7, 0, tzinfo=timezone.utc)


def test_a_weekly_draft_names_its_weekday() -> None:
    composed = {**composer.blank(), "when": {"mode": "weekly", "clock": "09:30", "weekday": 4}}
    assert composer.to_draft(composed, "Asia/Almaty").recurrence == "weekly:4@09:30@Asia/Almaty"


def test_a_one_off_and_now_have_no_repeat() -> None:
    at = {**composer.blank(), "when": {"mode": "at", "at": "2030-12-25T17:30:00+00:00"}, "urgent": True,
          "link_url": "https://example.org", "link_text": "More"}
    draft = composer.to_draft(at, "Europe/Berlin")
    assert (draft.send_at, draft.recurrence, draft.urgent, draft.link_text) == (
        datetime(2030, 12, 25, 17, 30, tzinfo=timezone.utc), None, True, "More")
    assert composer.to_draft(composer.blank(), "UTC").send_at is None


def test_a_zone_too_long_for_the_stored_repeat_is_refused_naming_it() -> None:
    assert recurrence_text(time(9), "America/Los_Angeles") == "daily@09:00@America/Los_Angeles"
    error = refused(recurrence_text, time(9), "America/Los_Angeles", 4)
    assert (error.code, error.details) == ("recurrence", {"zone": "America/Los_Angeles"})
    assert refused(parse_recurrence, "daily@09:00@Mars/Olympus").code == "recurrence"


def test_a_scheduled_announcement_becomes_the_draft_it_was_made_from() -> None:
    weekly = Announcement(id=1, texts={"en": "Hi", "kk": "Сәлем"}, audience={"countries": ["DE"]}, urgent=True,
                          status=AnnouncementStatus.SCHEDULED.value, recurrence="weekly:4@09:30@Europe/Berlin",
                          send_at=datetime(2030, 3, 8, 8, 30, tzinfo=timezone.utc), photo_file_id=None,
                          link_url="https://example.org", link_text="More")
    composed = composer.from_announcement(weekly, NOW)
    assert composed == {"texts": {"en": "Hi", "kk": "Сәлем"}, "audience": {"countries": ["DE"]},
                        "when": {"mode": "weekly", "clock": "09:30", "weekday": 4}, "urgent": True, "photo": None,
                        "link_url": "https://example.org", "link_text": "More"}
    assert composer.to_draft(composed, "Europe/Berlin").recurrence == weekly.recurrence, "the edit keeps the stored form"
    later = Announcement(id=2, texts={"en": "Hi"}, audience={}, urgent=False, send_at=datetime(2030, 6, 1, tzinfo=timezone.utc))
    assert composer.from_announcement(later, NOW)["when"] == {"mode": "at", "at": "2030-06-01T00:00:00+00:00"}
    passed = Announcement(id=3, texts={"en": "Hi"}, audience={}, urgent=False, send_at=datetime(2030, 1, 1, tzinfo=timezone.utc))
    assert composer.from_announcement(passed, NOW)["when"] == {"mode": "now"}
