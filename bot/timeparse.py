"""Times of day as people type them."""

from __future__ import annotations

import re
from datetime import time

_CLOCK = re.compile(r"^(?P<H>[01]?\d|2[0-3])[:.](?P<M>[0-5]\d)$", re.ASCII)  # ASCII: int() would read full-width digits


def parse_clock(text: str) -> time | None:
    """'9:00', '09.00' or '21:30'; None if unreadable."""
    match = _CLOCK.match(text.strip())
    return time(int(match["H"]), int(match["M"])) if match else None
