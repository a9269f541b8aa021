"""Telegram Mini App `initData`: verified on the server before anything is read or changed.

Telegram signs the query string it hands the Mini App: the data-check-string is every field but
``hash``, as ``key=value`` lines sorted by key and joined by ``\\n``; the secret key is
HMAC-SHA256 of the bot token keyed with the constant ``WebAppData``; ``hash`` is the hex
HMAC-SHA256 of the data-check-string under that secret key
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

MAX_INIT_DATA = 4096
CLOCK_SKEW = 60  # seconds an auth_date may lie in the future


@dataclass(frozen=True, slots=True)
class WebAppUser:
    """Who opened the Mini App, as Telegram vouches for it."""

    id: int
    language_code: str | None
    auth_date: int
    fields: dict[str, str]


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def sign(fields: dict[str, str], bot_token: str) -> str:
    """The hex hash Telegram would put on these fields (used by tests and the demo)."""
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    return hmac.new(secret, data_check_string(fields).encode(), hashlib.sha256).hexdigest()


def verify_init_data(init_data: str, bot_token: str, max_age: int, now: float | None = None) -> WebAppUser | None:
    """The user behind a genuine, fresh initData signed for this bot; None otherwise."""
    if not init_data or len(init_data) > MAX_INIT_DATA or not bot_token:
        return None
    try:
        pairs = parse_qsl(init_data, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        return None
    fields = dict(pairs)
    if len(fields) != len(pairs):  # a repeated key: refuse rather than guess which one was signed
        return None
    given = fields.get("hash", "")
    if len(given) != 64 or not hmac.compare_digest(sign(fields, bot_token), given.lower()):
        return None
    try:
        auth_date = int(fields.get("auth_date", ""))
        user: Any = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, TypeError, KeyError):
        return None
    now = time.time() if now is None else now
    if now - auth_date > max_age or auth_date - now > CLOCK_SKEW:
        return None
    language = user.get("language_code") if isinstance(user.get("language_code"), str) else None
    return WebAppUser(id=user_id, language_code=language, auth_date=auth_date, fields=fields)
