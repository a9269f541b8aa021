"""The one parser for numbers people type: ids, places, radii, coordinates.

Python's own ``int()`` and ``str.isdigit()`` disagree (``"²".isdigit()`` is true, ``int("²")``
raises) and ``int()`` happily reads full-width and Arabic-Indic digits; neither knows the
database's limits. Here a number is made of ASCII digits, or of the digits of the locale's own
numbering system, and must fall within a stated range; anything else is an error code the
caller turns into the step's usage text.

Babel tells which numbering systems a locale uses (``Locale.default_numbering_system`` and
``Locale.other_numbering_systems["native"]``, from CLDR) but not their digits, so the digit
zeros of CLDR's decimal numbering systems are listed below. All eight of our locales use
``latn``: for them only ASCII digits count.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.numbers import get_minus_sign_symbol

__all__ = [
    "COORDINATE_LAT", "COORDINATE_LON", "IntRange", "NumberError", "ROW_ID",
    "TELEGRAM_ID", "ascii_digits", "in_range", "parse_decimal", "parse_int",
]


class NumberError(str, Enum):
    """Why a text is not a number in the range."""

    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"


@dataclass(frozen=True)
class IntRange:
    """An inclusive range of whole numbers."""

    low: int
    high: int

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


# Row ids are INTEGER columns: 32 bits on PostgreSQL (SQLite would take 64).
ROW_ID = IntRange(1, 2**31 - 1)
# "At most 52 significant bits" (Bot API, User.id); stored as BIGINT.
TELEGRAM_ID = IntRange(1, 2**52 - 1)
COORDINATE_LAT = (-90.0, 90.0)
COORDINATE_LON = (-180.0, 180.0)

# Zero digit of each decimal numbering system of CLDR's numberingSystems.xml that some locale
# uses as its default or native system (the next nine code points are 1-9).
_DECIMAL_ZEROS = {
    "latn": "0", "arab": "\u0660", "arabext": "\u06f0", "beng": "\u09e6", "deva": "\u0966",
    "gujr": "\u0ae6", "guru": "\u0a66", "knda": "\u0ce6", "mlym": "\u0d66", "orya": "\u0b66",
    "tamldec": "\u0be6", "telu": "\u0c66", "thai": "\u0e50", "tibt": "\u0f20", "mymr": "\u1040",
    "khmr": "\u17e0", "laoo": "\u0ed0", "mtei": "\uabf0", "olck": "\u1c50", "limb": "\u1946",
    "nkoo": "\u07c0", "sund": "\u1bb0", "java": "\ua9d0", "cakm": "\U00011136", "adlm": "\U0001e950",
}
_SPACES = "\u0020\u00a0\u2009\u202f"  # space, no-break, thin, narrow no-break: how people group thousands
_MINUS = {"-", "\u2212"}  # hyphen-minus, minus sign
_GROUPED = re.compile(r"[0-9]{1,3}(?:[" + _SPACES + r"][0-9]{3})+", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+(?:[.,][0-9]+)?", re.ASCII)


@lru_cache(maxsize=64)
def _digit_map(locale: str | None) -> dict[int, str]:
    """Translation of the locale's own digits to ASCII (empty for latn locales)."""
    if not locale:
        return {}
    try:
        parsed = Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return {}
    systems = {parsed.default_numbering_system, parsed.other_numbering_systems.get("native")}
    table: dict[int, str] = {}
    for system in systems:
        zero = _DECIMAL_ZEROS.get(system or "")
        if zero is None or zero == "0":
            continue
        for value in range(10):
            char = chr(ord(zero) + value)
            if unicodedata.decimal(char, None) == value:
                table[ord(char)] = str(value)
    return table


@lru_cache(maxsize=64)
def _minus_signs(locale: str | None) -> frozenset[str]:
    signs = set(_MINUS)
    if locale:
        try:
            signs.add(get_minus_sign_symbol(locale.replace("-", "_"), numbering_system="default").strip("\u200e\u200f\u061c"))
        except (UnknownLocaleError, ValueError, KeyError):
            pass
    return frozenset(s for s in signs if s)


def ascii_digits(text: str, locale: str | None = None) -> str:
    """The text with the locale's own digits written as ASCII ones; other characters untouched."""
    table = _digit_map(locale)
    return text.translate(table) if table else text


def _split_sign(text: str, locale: str | None) -> tuple[int, str]:
    text = text.strip("\u200e\u200f\u061c")  # bidi marks some keyboards put before a sign
    if text[:1] == "+":
        return 1, text[1:]
    if text[:1] in _minus_signs(locale):
        return -1, text[1:]
    return 1, text


def parse_int(text: str | None, allowed: IntRange, locale: str | None = None, *, grouping: bool = False) -> int | NumberError:
    """A whole number within ``allowed``, or why not.

    ``grouping`` accepts thousands separated by spaces ("1 000"). No other character is read:
    superscripts, circled, full-width or another script's digits are NOT_A_NUMBER.
    """
    raw = (text or "").strip()
    if not raw:
        return NumberError.EMPTY
    sign, body = _split_sign(ascii_digits(raw, locale), locale)
    if grouping and _GROUPED.fullmatch(body):
        body = "".join(ch for ch in body if ch not in _SPACES)
    if not body or not body.isascii() or not body.isdigit():
        return NumberError.NOT_A_NUMBER
    digits = body.lstrip("0") or "0"
    # Decide on the length first: int() of 5000 digits is refused by Python, and is slow before that.
    limit = max(len(str(abs(allowed.low))), len(str(abs(allowed.high))))
    if len(digits) > limit:
        return NumberError.TOO_LARGE if sign > 0 else NumberError.TOO_SMALL
    value = sign * int(digits)
    if value < allowed.low:
        return NumberError.TOO_SMALL
    if value > allowed.high:
        return NumberError.TOO_LARGE
    return value


def parse_decimal(text: str | None, low: float, high: float, locale: str | None = None, *,
                  low_inclusive: bool = True) -> float | NumberError:
    """A number with an optional fraction ("50", "52.52", "13,40") within [low, high], or why not.

    No exponent, no "nan" or "inf", no digits other than ASCII and the locale's own.
    """
    raw = (text or "").strip()
    if not raw:
        return NumberError.EMPTY
    sign, body = _split_sign(ascii_digits(raw, locale), locale)
    if len(body) > 32 or not _DECIMAL.fullmatch(body):
        return NumberError.NOT_A_NUMBER
    try:
        value = float(sign * Decimal(body.replace(",", ".")))
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        return NumberError.NOT_A_NUMBER
    if value < low or (value == low and not low_inclusive):
        return NumberError.TOO_SMALL
    if value > high:
        return NumberError.TOO_LARGE
    return value


def in_range(value: object, allowed: IntRange) -> bool:
    """Whether an int that came from elsewhere (callback data, FSM data) is within ``allowed``."""
    return value in allowed
