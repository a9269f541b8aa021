"""Dates and times as people type them, read in a given time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

_PATTERNS = (
    re.compile(r"^(?P<d>\d{1,2})[./](?P<m>\d{1,2})[./](?P<y>\d{4})\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})[ T](?P<H>\d{1,2}):(?P<M>\d{2})$"),
    re.compile(r"^(?P<d>\d{1,2})[./](?P<m>\d{1,2})\s+(?P<H>\d{1,2})[:.](?P<M>\d{2})$"),
)
_CLOCK = re.compile(r"^(?P<H>[01]?\d|2[0-3]):(?P<M>[0-5]\d)$")


def parse_local(text: str, zone: str, now: datetime) -> datetime | None:
    """'25.12.2026 18:30', '2026-12-25 18:30' or '25/12 18:30' (the next such day) in `zone`, as UTC; None if unreadable or impossible."""
    value = " ".join(text.split())
    tz = ZoneInfo(zone)
    for pattern in _PATTERNS:
        match = pattern.match(value)
        if not match:
            continue
        parts = match.groupdict()
        local_now = now.astimezone(tz)
        year = int(parts["y"]) if parts.get("y") else local_now.year
        try:
            moment = datetime(year, int(parts["m"]), int(parts["d"]), int(parts["H"]), int(parts["M"]), tzinfo=tz)
            if not parts.get("y") and moment < local_now:
                moment = moment.replace(year=year + 1)  # "25/12" in late December means next year's
        except ValueError:
            return None
        return _utc_if_real(moment)
    return None


def parse_clock(text: str) -> time | None:
    """'9:00' or '21:30'."""
    match = _CLOCK.match(text.strip())
    return time(int(match["H"]), int(match["M"])) if match else None


def _utc_if_real(moment: datetime) -> datetime | None:
    # A wall-clock time skipped by a daylight-saving jump does not exist.
    utc = moment.astimezone(ZoneInfo("UTC"))
    if utc.astimezone(moment.tzinfo).replace(tzinfo=None) != moment.replace(tzinfo=None):
        return None
    return utc


def day_after(now: datetime, days: int, zone: str) -> date:
    """A local date `days` from today in `zone`."""
    return (now.astimezone(ZoneInfo(zone)) + timedelta(days=days)).date()
