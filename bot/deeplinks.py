"""Deep links to cards: https://t.me/<bot>?start=e_<id> (an event) or o_<id> (an organisation).

The bot's username comes from getMe once per process (remembered at start-up); a payload that is
not exactly ours parses to None, so anything else a /start may carry is ignored.
"""

from __future__ import annotations

import logging
import re

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError

log = logging.getLogger(__name__)

KINDS = {"e": "event", "o": "organisation"}
_PAYLOAD = re.compile(r"([eo])_([1-9][0-9]{0,9})")
_username: str | None = None


async def remember_bot(bot: Bot) -> str | None:
    """Learn (once) the bot's username for share links; None if the server will not say."""
    global _username
    if _username is None:
        try:
            _username = (await bot.me()).username
        except (TelegramAPIError, ClientDecodeError) as error:
            log.warning("no username for share links: %s", error)
    return _username


def share_link(kind: str, item_id: int | None, username: str | None = None) -> str | None:
    """The link that opens this card in the bot (`username`, else the one remembered at start-up),
    or None while no username is known."""
    username = username or _username
    if username is None or kind not in KINDS or item_id is None:  # a draft in preview has no id yet
        return None
    return f"https://t.me/{username}?start={kind}_{int(item_id)}"


def parse_payload(payload: str | None) -> tuple[str, int] | None:
    """("e", 42) for "e_42"; None for anything else (another bot's format, random bytes, markup)."""
    if not payload:
        return None
    match = _PAYLOAD.fullmatch(payload.strip())
    return (match[1], int(match[2])) if match else None
