"""Checks of values people type or import that several features share: one rule, one place.

`bounded` is the length rule of free texts (titles, descriptions, reasons): empty and too long
are refused with a code (`<field>_empty`, `<field>_too_long`) the handler translates.

`clean_link` is the rule for every web address the bot stores and shows (an event's "More"
link, an organisation's website, an announcement's button): the event form, the importer and
the announcement service all call it, and each turns `InvalidLink` into its own message.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bot.services.errors import InvalidEventField

LINK_MAX = 300  # the columns' length: events.link, organisations.website, announcements.link_url
_UNSAFE = re.compile(r'[\s<>"\x00-\x1f\x7f]')  # whitespace, control characters, what would break HTML


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # control characters other than tab and line feed


def bounded(text: str, limit: int, field: str) -> str:
    """The text if it is 1–limit characters; else InvalidEventField '<field>_empty' or '<field>_too_long'."""
    if not text:
        raise InvalidEventField(f"{field}_empty")
    if len(text) > limit:
        raise InvalidEventField(f"{field}_too_long")
    return text


class InvalidLink(ValueError):
    """Not an http(s) web address the bot can store and show."""


def clean_link(raw: str | None) -> str:
    """An http(s) address with a host name, at most LINK_MAX characters; a bare host gets https
    (`example.org/x` becomes `https://example.org/x`). Raises InvalidLink for anything else."""
    link = (raw or "").strip()
    if link and "://" not in link:
        link = "https://" + link
    if not link or len(link) > LINK_MAX or _UNSAFE.search(link):
        raise InvalidLink(link)
    try:
        parts = urlsplit(link)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises for a port that is not a number in range)
    except ValueError as error:
        raise InvalidLink(link) from error
    labels = host.split(".")
    if parts.scheme not in ("http", "https") or len(labels) < 2 or not all(labels):
        raise InvalidLink(link)
    return link
