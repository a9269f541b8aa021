"""Runs the delivery engine for one announcement in its own process (the crash test kills it)."""

from __future__ import annotations

import asyncio
import sys

from bot.app import create_bot
from bot.config import load_settings
from db.session import create_engine, create_session_factory
from jobs.delivery import DeliveryEngine


async def main(database_url: str, api_base: str, token: str, announcement_id: int, rate: float) -> None:
    settings = load_settings(database_url=database_url, telegram_api_base=api_base, bot_token=token)
    engine = create_engine(settings.database_url)
    bot = create_bot(settings)
    try:
        delivery = DeliveryEngine(bot, create_session_factory(engine), rate)
        print(f"window {delivery.window}", flush=True)
        await delivery.run(announcement_id)
    finally:
        await bot.session.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])))
