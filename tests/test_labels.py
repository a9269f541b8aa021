"""Every name a keyboard or card shows (languages, countries, categories) is in the reader's own
script and language: no English fallback, no letter from another alphabet, Uzbek ʻ as U+02BB."""

from __future__ import annotations

import re

import pytest

from bot.config import LOCALES
from bot.geo import country_name
from bot.geo.countries import _valid_codes
from bot.i18n import capitalise, create_i18n
from bot.labels import category_label, interest_label, language_label, language_list, language_name
from bot.services.directory import ORGANISATION_CATEGORIES
from bot.services.events import EVENT_CATEGORIES, EVENT_LANGUAGES
from bot.services.registration import INTERESTS, ORIGIN_COUNTRIES, SPOKEN_LANGUAGES

I18N = create_i18n()
NON_ENGLISH = [code for code in LOCALES if code != "en"]

# Each locale's letters (lower case); anything else that is a letter is another script or language.
ALPHABET = {
    "tr": set("abcçdefgğhıijklmnoöprsştuüvyzâîû"),
    "az": set("abcçdeəfgğhxıijkqlmnoöprsştuüvyz"),
    "uz": set("abcdefghijklmnopqrstuvxyzʻʼ"),
    "tk": set("abçdeäfghijžklmňnoöprsştuüwyýz"),
    "kk": set("абвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюяә"),
    "ky": set("абвгдеёжзийклмнңоөпрстуүфхцчшщъыьэюя"),
    "ru": set("абвгдеёжзийклмнопрстуфхцчшщъыьэюя"),
    "en": set("abcdefghijklmnopqrstuvwxyzü"),  # "Türkiye"
}
CYRILLIC = {"kk", "ky", "ru"}
# Labels that are rightly the same as in English: English took the country's own name.
SAME_AS_ENGLISH = {("tr", "origin country", "TR")}


def foreign_letters(locale: str, text: str) -> set[str]:
    marks = "ʻʼ'‘’`" if locale == "uz" else ""
    return {ch for ch in text if (ch.isalpha() or ch in marks) and ch.lower() not in ALPHABET[locale] and ch != "İ"}


def wrong_script(locale: str, text: str) -> bool:
    """Cyrillic in a Latin locale or Latin in a Cyrillic one (foreign proper names such as "Åland" are fine)."""
    return bool(re.search("[A-Za-z]" if locale in CYRILLIC else "[\u0400-\u04ff]", text))


def every_label(locale: str) -> list[tuple[str, str, str]]:
    """(kind, code, label) for every language, origin country and category a member can see."""
    with I18N.context(), I18N.use_locale(locale):
        labels = [("language", code, language_label(code, locale)) for code in set(SPOKEN_LANGUAGES) | set(EVENT_LANGUAGES)]
        labels += [("language in text", code, language_name(code, locale)) for code in SPOKEN_LANGUAGES]
        labels += [("origin country", code, country_name(code, locale)) for code in ORIGIN_COUNTRIES]
        labels += [("interest", code, interest_label(code)) for code in set(INTERESTS) | set(EVENT_CATEGORIES)]
        labels += [("organisation category", code, category_label(code)) for code in ORGANISATION_CATEGORIES]
    return labels


@pytest.mark.parametrize("locale", LOCALES)
def test_every_label_is_in_the_locales_own_script(locale: str) -> None:
    wrong = [(kind, code, label, sorted(foreign_letters(locale, label))) for kind, code, label in every_label(locale)
             if foreign_letters(locale, label)]
    assert wrong == []


@pytest.mark.parametrize("locale", NON_ENGLISH)
def test_no_label_falls_back_to_english(locale: str) -> None:
    english = {(kind, code): label for kind, code, label in every_label("en")}
    same = [(kind, code, label) for kind, code, label in every_label(locale) if label == english[(kind, code)] and (locale, kind, code) not in SAME_AS_ENGLISH]
    assert same == []


@pytest.mark.parametrize("locale", LOCALES)
def test_every_country_name_is_in_the_locales_script(locale: str) -> None:
    wrong = {code: country_name(code, locale) for code in _valid_codes() if wrong_script(locale, country_name(code, locale))}
    assert wrong == {}


def test_crimean_tatar_has_a_name_in_every_locale() -> None:
    assert [language_label("crh", locale) for locale in LOCALES] == [
        "Kırım Tatarcası", "Krım-tatar dili", "Қырым татар тілі", "Крым-татарча", "Qrim-tatar tili", "Krym-tatar dili",
        "Крымско-татарский", "Crimean Tatar"]


def test_azerbaijani_capitalises_with_the_dotted_capital_i() -> None:
    assert language_label("en", "az") == "İngilis dili"
    assert capitalise("ıslak", "tr") == "Islak" and capitalise("istanbul", "tr") == "İstanbul"
    assert capitalise("istanbul", "en") == "Istanbul"


def test_russian_names_kyrgyzstan_and_lowercases_languages_inside_a_sentence() -> None:
    assert country_name("KG", "ru") == "Кыргызстан"
    assert language_label("ky", "ru") == "Кыргызский"
    assert language_list(["tr", "ky"], "ru") == "турецкий, кыргызский"


def test_uzbek_uses_the_turned_comma_for_o_and_g() -> None:
    assert country_name("US", "uz") == "Amerika Qoʻshma Shtatlari"
    assert language_label("uz", "uz") == "Oʻzbek tili" and language_label("ug", "uz") == "Uygʻur tili"
    names = [country_name(code, "uz") for code in _valid_codes()] + [language_label(code, "uz") for code in SPOKEN_LANGUAGES]
    assert not [name for name in names if re.search("[‘’'`]", name)]
