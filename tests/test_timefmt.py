"""Times as people write them, in all eight locales: no seconds, the zone as a city, the weekday
in the locale's own case, and one function for all of it (bot.i18n.format_when)."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from bot.config import LOCALES
from bot.i18n import format_when, weekday_name

# Friday 25 December 2026, 18:30 in Berlin.
MOMENT = datetime(2026, 12, 25, 17, 30, tzinfo=timezone.utc)
NNBSP = "\u202f"

FULL = {
    "tr": "25 Aralık 2026 Cuma, 18:30 (Berlin)",
    "az": "Cümə, 25 dekabr 2026, 18:30 (Berlin)",
    "kk": f"2026{NNBSP}ж. 25 желтоқсан, жұма, 18:30 (Берлин)",
    "ky": "2026-ж., 25-декабрь, жума, 18:30 (Берлин)",
    "uz": "juma, 25-dekabr, 2026, 18:30 (Berlin)",
    "tk": "25 dekabr 2026, anna, 18:30 (Berlin)",
    "ru": f"пятница, 25 декабря 2026{NNBSP}г., 18:30 (Берлин)",
    "en": f"Friday, December 25, 2026, 6:30{NNBSP}PM (Berlin)",
}
DAY = {"tr": "25 Ara Cuma", "az": "Cümə, 25 dek", "kk": "25 жел., жұма", "ky": "Жума, 25-дек.", "uz": "Juma, 25-dek",
       "tk": "25 dek, anna", "ru": "Пятница, 25 дек.", "en": "Fri 25 Dec"}
MONDAY_IN_TEXT = {"tr": "pazartesi", "az": "bazar ertəsi", "kk": "дүйсенбі", "ky": "дүйшөмбү", "uz": "dushanba",
                  "tk": "duşenbe", "ru": "понедельник", "en": "Monday"}


@pytest.mark.parametrize("locale", LOCALES)
def test_an_event_time_reads_as_people_write_it(locale: str) -> None:
    assert format_when(MOMENT, locale, "Europe/Berlin", "full") == FULL[locale]


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("style", ["full", "medium", "short", "time"])
def test_no_style_shows_seconds_or_a_long_zone_name(locale: str, style: str) -> None:
    text = format_when(MOMENT, locale, "Europe/Berlin", style)
    assert not re.search(r"\d:\d\d:\d\d", text)
    assert not re.search("(?i)standar|europ|avrupa|еуропа|европа|ýewropa|yevropa|wagt|vaxt|saat|время|уақыт|убакыт", text)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_zone_is_named_by_its_city_in_the_readers_script(locale: str) -> None:
    assert format_when(MOMENT, locale, "Asia/Almaty", "time").endswith(
        {"tr": "(Almatı)", "az": "(Almatı)", "kk": "(Алматы)", "ky": "(Алматы)", "uz": "(Almati)", "tk": "(Almaty)",
         "ru": "(Алматы)", "en": "(Almaty)"}[locale])
    assert format_when(MOMENT, locale, None, "time").endswith("(UTC)")


@pytest.mark.parametrize("locale", LOCALES)
def test_a_day_button_writes_the_weekday_out(locale: str) -> None:
    assert format_when(MOMENT, locale, "Europe/Berlin", "day") == DAY[locale]


@pytest.mark.parametrize("locale", LOCALES)
def test_a_weekday_inside_a_sentence_takes_the_locales_case(locale: str) -> None:
    assert weekday_name(0, locale) == MONDAY_IN_TEXT[locale]


def test_short_dates_follow_the_locale_and_keep_minutes() -> None:
    assert format_when(MOMENT, "ru", "Asia/Bishkek", "short") == "25.12.2026, 23:30"
    assert format_when(MOMENT, "en", "America/New_York", "short") == f"12/25/2026, 12:30{NNBSP}PM"
