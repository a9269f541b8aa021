"""Localised labels for codes we store: countries, languages, interests, categories.

CLDR (through Babel) gives most names; a small curated table corrects the ones it gets wrong or
lacks for our readers (Crimean Tatar in kk ky uz tk, Azerbaijani bare adjectives, Uzbek U+2018,
Russian "киргизский"). Names are stored as written mid-sentence and capitalised per locale
(Turkish and Azerbaijani i → İ) when they stand alone, on a button or at the start of a line.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiogram.utils.i18n import gettext as _
from babel import Locale

from bot.geo import City, city_name, country_name, get_gazetteer
from bot.geo.countries import normalise_uzbek
from bot.i18n import babel_locale, capitalise

# Spoken-language names as written inside a sentence, where CLDR is wrong, inconsistent or silent.
LANGUAGE_OVERRIDES: dict[str, dict[str, str]] = {
    "az": {
        "tr": "türk dili", "az": "Azərbaycan dili", "kk": "qazax dili", "ky": "qırğız dili", "uz": "özbək dili",
        "tk": "türkmən dili", "tt": "tatar dili", "ba": "başqırd dili", "ug": "uyğur dili", "crh": "krım-tatar dili",
        "ru": "rus dili", "en": "ingilis dili", "de": "alman dili",
    },
    "uz": {
        "tr": "turk tili", "az": "ozarbayjon tili", "kk": "qozoq tili", "ky": "qirgʻiz tili", "uz": "oʻzbek tili",
        "tk": "turkman tili", "tt": "tatar tili", "ba": "boshqird tili", "ug": "uygʻur tili", "crh": "qrim-tatar tili",
        "ru": "rus tili", "en": "ingliz tili", "de": "nemis tili",
    },
    "kk": {"crh": "қырым татар тілі"},
    "ky": {"crh": "крым-татарча"},
    "tk": {"crh": "krym-tatar dili"},
    "ru": {"ky": "кыргызский"},
}


def interest_label(code: str) -> str:
    """An interest (also an event's category) in the current locale."""
    labels = {
        "culture": _("Culture and arts"),
        "education": _("Education and language"),
        "business": _("Business"),
        "religion": _("Religion"),
        "youth": _("Youth and students"),
        "sports": _("Sports"),
        "media": _("Media"),
        "consular": _("Official and consular"),
        "volunteering": _("Volunteering"),
    }
    return labels.get(code, code)


def language_name(code: str, locale: str) -> str:
    """A spoken language's name in the viewer's locale as written mid-sentence ("турецкий", "qazax dili")."""
    curated = LANGUAGE_OVERRIDES.get(locale, {}).get(code)
    if curated:
        return curated
    for name in (babel_locale(locale), "en"):
        label = Locale.parse(name).languages.get(code)
        if label:
            return normalise_uzbek(label) if locale == "uz" else label
    return code


def language_label(code: str, locale: str) -> str:
    """A spoken language's name standing alone (a button, a list item): capitalised the locale's way."""
    return capitalise(language_name(code, locale), locale)


def language_list(codes: Iterable[str], locale: str) -> str:
    """Languages inside a sentence: "турецкий, казахский", "Türkçe, Kazakça", "—" when there are none."""
    return ", ".join(language_name(code, locale) for code in codes) or "—"


def place_label(city_id: int | None, stored: str | None, locale: str) -> str:
    """A member's or a place's city in the reader's script when the gazetteer knows it, else as stored."""
    city: City | None = get_gazetteer().get(city_id) if city_id else None
    return city_name(city, locale) if city is not None else (stored or "—")


def country_label(code: str | None, locale: str) -> str:
    """A country's name in the viewer's locale."""
    return country_name(code, locale) if code else "—"


def category_label(code: str | None) -> str:
    """An organisation category in the current locale."""
    labels = {
        "cultural_centre": _("Cultural centre"),
        "association": _("Association"),
        "school": _("School or language course"),
        "business": _("Business or chamber"),
        "religious": _("Religious community"),
        "media": _("Media"),
        "student": _("Student organisation"),
        "official": _("Official or consular"),
    }
    return labels.get(code or "", code or "—")
