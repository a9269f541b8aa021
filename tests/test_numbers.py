"""The one number parser: ASCII digits, the locale's own digits, a stated range, nothing else."""

from __future__ import annotations

import pytest

from bot.numbers import ROW_ID, TELEGRAM_ID, IntRange, NumberError, ascii_digits, in_range, parse_decimal, parse_int
from bot.services.events import InvalidEventField, clean_capacity

OUR_LOCALES = ("tr", "az", "kk", "ky", "uz", "tk", "ru", "en")
HOSTILE = {
    "²": NumberError.NOT_A_NUMBER,            # superscript two (AltGr+2 on a German keyboard)
    "¹²": NumberError.NOT_A_NUMBER,
    "①": NumberError.NOT_A_NUMBER,            # circled digit one
    "１２": NumberError.NOT_A_NUMBER,          # full-width digits, which int() would read
    "1²": NumberError.NOT_A_NUMBER,
    "12a": NumberError.NOT_A_NUMBER,
    "1.5": NumberError.NOT_A_NUMBER,
    "0x10": NumberError.NOT_A_NUMBER,
    "1_000": NumberError.NOT_A_NUMBER,        # int() reads underscores
    "--1": NumberError.NOT_A_NUMBER,
    "-5": NumberError.TOO_SMALL,
    "\u22125": NumberError.TOO_SMALL,          # the typographic minus sign
    "0": NumberError.TOO_SMALL,
    str(2**63): NumberError.TOO_LARGE,
    "9223372036854775808": NumberError.TOO_LARGE,
    "12345678901234567890": NumberError.TOO_LARGE,
    "9" * 5000: NumberError.TOO_LARGE,        # beyond Python's int() digit limit
    "-" + "9" * 30: NumberError.TOO_SMALL,
    "": NumberError.EMPTY,
    "   ": NumberError.EMPTY,
}


@pytest.mark.parametrize("locale", OUR_LOCALES)
@pytest.mark.parametrize("text, error", list(HOSTILE.items()), ids=lambda v: repr(v)[:20])
def test_odd_digits_and_huge_numbers_are_error_codes_in_every_locale(locale: str, text: str, error: NumberError) -> None:
    assert parse_int(text, ROW_ID, locale) == error


@pytest.mark.parametrize("locale", OUR_LOCALES)
def test_plain_numbers_read_in_every_locale(locale: str) -> None:
    assert parse_int("42", ROW_ID, locale) == 42
    assert parse_int("  007 ", ROW_ID, locale) == 7
    assert parse_int("+3", ROW_ID, locale) == 3
    assert parse_int(str(2**31 - 1), ROW_ID, locale) == 2**31 - 1
    assert parse_int(str(2**31), ROW_ID, locale) == NumberError.TOO_LARGE


def test_the_range_is_inclusive_and_signed_ranges_work() -> None:
    signed = IntRange(-10, 10)
    assert parse_int("-10", signed) == -10
    assert parse_int("10", signed) == 10
    assert parse_int("-11", signed) == NumberError.TOO_SMALL
    assert parse_int("11", signed) == NumberError.TOO_LARGE


def test_telegram_ids_fit_52_bits() -> None:
    assert parse_int("4503599627370495", TELEGRAM_ID) == 2**52 - 1
    assert parse_int("4503599627370496", TELEGRAM_ID) == NumberError.TOO_LARGE


def test_thousands_may_be_grouped_with_spaces_only_when_asked() -> None:
    assert parse_int("1 000", IntRange(1, 100_000), "ru", grouping=True) == 1000
    assert parse_int("1\u00a0000", IntRange(1, 100_000), "kk", grouping=True) == 1000  # no-break space (ru, kk style)
    assert parse_int("100\u202f000", IntRange(1, 100_000), "tr", grouping=True) == 100_000
    assert parse_int("1 000", IntRange(1, 100_000), "ru") == NumberError.NOT_A_NUMBER
    assert parse_int("1 00", IntRange(1, 100_000), "ru", grouping=True) == NumberError.NOT_A_NUMBER


@pytest.mark.parametrize("locale, text", [("ar_EG", "١٢"), ("fa", "۱۲"), ("bn", "১২"), ("uz_Arab", "۱۲"), ("mr", "१२")])
def test_a_locale_reads_its_own_digits(locale: str, text: str) -> None:
    assert parse_int(text, ROW_ID, locale) == 12
    assert ascii_digits(text, locale) == "12"


@pytest.mark.parametrize("locale", OUR_LOCALES)
def test_other_scripts_digits_are_not_ours(locale: str) -> None:
    # Our eight locales write numbers with ASCII digits only (CLDR: latn).
    assert parse_int("١٢", ROW_ID, locale) == NumberError.NOT_A_NUMBER
    assert parse_int("۱۲", ROW_ID, locale) == NumberError.NOT_A_NUMBER


def test_an_unknown_locale_falls_back_to_ascii() -> None:
    assert parse_int("12", ROW_ID, "xx_Nowhere") == 12
    assert parse_int("١٢", ROW_ID, "xx_Nowhere") == NumberError.NOT_A_NUMBER


def test_decimals_for_radii_and_coordinates() -> None:
    assert parse_decimal("52.52", -90, 90) == 52.52
    assert parse_decimal("13,40", -180, 180) == 13.4
    assert parse_decimal("-33.9", -90, 90) == -33.9
    assert parse_decimal("50", 0, 20000, low_inclusive=False) == 50
    assert parse_decimal("0", 0, 20000, low_inclusive=False) == NumberError.TOO_SMALL
    for text in ("nan", "inf", "1e5", "²", "１２", "1_0", "1.2.3", "."):
        assert parse_decimal(text, -1e9, 1e9) == NumberError.NOT_A_NUMBER, text
    assert parse_decimal("91", -90, 90) == NumberError.TOO_LARGE


def test_ids_from_elsewhere_are_range_checked() -> None:
    assert in_range(5, ROW_ID)
    assert not in_range(2**63, ROW_ID)
    assert not in_range(0, ROW_ID)
    assert not in_range(True, ROW_ID)
    assert not in_range("5", ROW_ID)


@pytest.mark.parametrize("text", ["²", "¹²", "①", "１２", "-3", str(2**63), "12345678901234567890", "0", "100001"])
def test_capacity_refuses_odd_input_with_its_reason(text: str) -> None:
    with pytest.raises(InvalidEventField) as error:
        clean_capacity(text, "de")
    assert error.value.reason == "capacity"


def test_capacity_reads_grouped_and_plain_numbers() -> None:
    assert clean_capacity("1 000", "ru") == 1000
    assert clean_capacity("25") == 25


def test_times_are_read_in_ascii_digits_only() -> None:
    from datetime import datetime, time, timezone

    from bot.services.events import parse_local
    from bot.timeparse import parse_clock

    assert parse_clock("18:30") == time(18, 30)
    assert parse_clock("１８:３０") is None and parse_clock("¹8:30") is None
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert parse_local("25.12.2026 18:30", "Europe/Berlin", now) == datetime(2026, 12, 25, 18, 30)
    for text in ("２５.１２.２０２６ １８:３０", "25.12.2026 1⁸:30", "٢٥.١٢.٢٠٢٦ ١٨:٣٠"):
        with pytest.raises(InvalidEventField):
            parse_local(text, "Europe/Berlin", now)
