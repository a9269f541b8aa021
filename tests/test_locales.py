"""Every catalogue is complete, valid, and keeps the placeholders and markup of its msgid."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from babel.messages.pofile import read_po

from bot.config import LOCALES
from tests.conftest import ROOT

PLACEHOLDER = re.compile(r"\{[a-z_]*\}")
TAG = re.compile(r"</?([a-z]+)[^>]*>")


def _catalogue(locale: str):  # type: ignore[no-untyped-def]
    with open(ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=locale)


def _forms(message) -> list[str]:  # type: ignore[no-untyped-def]
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogue_is_complete_and_not_fuzzy(locale: str) -> None:
    catalogue = _catalogue(locale)
    missing = [m.id for m in catalogue if m.id and (m.fuzzy or not all(_forms(m)))]
    assert missing == []
    assert len(catalogue) > 0


@pytest.mark.parametrize("locale", [code for code in LOCALES if code != "en"])
def test_no_english_left_in_the_translations(locale: str) -> None:
    catalogue = _catalogue(locale)
    same = [m.id for m in catalogue if m.id and not isinstance(m.id, tuple) and m.string == m.id and re.search("[a-z]{4}", m.id)]
    assert same == []


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_and_tags_survive_translation(locale: str) -> None:
    for message in _catalogue(locale):
        if not message.id:
            continue
        source = message.id[0] if isinstance(message.id, tuple) else message.id
        for form in _forms(message):
            assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(source)), (locale, source)
            assert sorted(TAG.findall(form)) == sorted(TAG.findall(source)), (locale, source)


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="msgfmt (gettext) is not installed")
@pytest.mark.parametrize("locale", LOCALES)
def test_msgfmt_check_passes(locale: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    po = ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
    result = subprocess.run(["msgfmt", "--check", "-o", str(tmp_path / "out.mo"), str(po)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("locale", ["ru", "kk", "ky"])
def test_cyrillic_locales_are_written_in_cyrillic(locale: str) -> None:
    texts = " ".join(f for m in _catalogue(locale) if m.id for f in _forms(m))
    letters = [c for c in texts if c.isalpha()]
    cyrillic = [c for c in letters if "\u0400" <= c <= "\u04ff"]
    assert len(cyrillic) > 0.7 * len(letters)


@pytest.mark.parametrize("locale", ["tr", "az", "uz", "tk"])
def test_latin_turkic_locales_are_written_in_latin(locale: str) -> None:
    texts = " ".join(f for m in _catalogue(locale) if m.id for f in _forms(m))
    assert not re.search("[\u0400-\u04ff]", texts)
