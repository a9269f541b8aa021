"""Localised labels for codes we store: countries, languages, interests."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from babel import Locale

from bot.geo import country_name
from bot.i18n import babel_locale


def interest_label(code: str) -> str:
    """An interest in the current locale."""
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


def language_label(code: str, locale: str) -> str:
    """A spoken language's name in the viewer's locale (CLDR), English when CLDR lacks it."""
    for name in (babel_locale(locale), "en"):
        label = Locale.parse(name).languages.get(code)
        if label:
            return label[:1].upper() + label[1:]
    return code


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
