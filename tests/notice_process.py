"""Runs one round of the one sender (jobs/notices.py) in its own process (the crash test kills it)."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

from bot.app import create_bot
from bot.config import load_settings
from bot.i18n import create_i18n
from db.session import create_engine, create_session_factory
from jobs.context import JobContext
from jobs.notices import send_round


async def main(database_url: str, api_base: str, token: str, now: datetime, rate: float) -> None:
    settings = load_settings(database_url=database_url, telegram_api_base=api_base, bot_token=token, broadcast_rate=rate)
    engine = create_engine(settings.database_url)
    bot = create_bot(settings)
    try:
        await send_round(JobContext(settings, create_session_factory(engine), bot, create_i18n()), now)
    finally:
        await bot.session.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], datetime.fromisoformat(sys.argv[4]), float(sys.argv[5])))
