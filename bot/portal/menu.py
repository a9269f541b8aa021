"""The bot's menu button opens the portal as a Mini App when PORTAL_URL is configured."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import MenuButtonWebApp, WebAppInfo

from bot.portal.settings import PortalSettings

log = logging.getLogger(__name__)


async def set_menu_button(bot: Bot, portal_settings: PortalSettings | None = None, locale: str = "en") -> bool:
    """setChatMenuButton with a web_app button to PORTAL_URL/<locale>/app; False when no URL is set.

    Telegram opens Mini Apps only over https, so an http:// PORTAL_URL (a local demo) is skipped.
    """
    portal_settings = portal_settings or PortalSettings()
    url = portal_settings.portal_url
    if not url or not url.startswith("https://"):
        return False
    try:
        await bot.set_chat_menu_button(menu_button=MenuButtonWebApp(text="Kardeş", web_app=WebAppInfo(url=f"{url}/{locale}/app")))
    except (TelegramAPIError, ClientDecodeError) as error:
        log.warning("portal: the menu button was not set: %s", error)
        return False
    return True
