"""Time zones and quiet hours: one reading of a member's or a venue's zone for every feature.

A leaf: imports nothing from the rest of the project.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class HasQuietHours(Protocol):
    quiet_start: str | None
    quiet_end: str | None
    timezone: str | None


def zone_of(name: str | None) -> ZoneInfo:
    """The IANA zone, UTC when unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def quiet_until(member: HasQuietHours, now: datetime) -> datetime | None:
    """When the member's quiet hours end, if `now` falls inside them (in their time zone; UTC when unknown)."""
    if not member.quiet_start or not member.quiet_end:
        return None
    zone = zone_of(member.timezone)
    local = now.astimezone(zone)
    start, end, clock = time.fromisoformat(member.quiet_start), time.fromisoformat(member.quiet_end), local.time()
    if start == end:
        return None
    if start < end:  # within one day, e.g. 13:00–15:00
        inside, wake_day = start <= clock < end, local.date()
    else:  # across midnight, e.g. 22:00–08:00
        inside = clock >= start or clock < end
        wake_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(wake_day, end, tzinfo=zone).astimezone(now.tzinfo)


def in_quiet_hours(member: HasQuietHours, now: datetime) -> bool:
    """Whether it is the member's quiet time now, in their own time zone (ranges may cross midnight)."""
    return quiet_until(member, now) is not None
