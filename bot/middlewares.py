"""Update middlewares: throttle, database session, member, locale."""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm_storage import update_session
from bot.i18n import locale_from_telegram, resolve_locale
from bot.services.members import reactivate
from db.repositories import Repo

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ThrottleMiddleware(BaseMiddleware):
    """A token bucket per user: floods are dropped before they reach the database."""

    def __init__(self, i18n: I18n, rate: float, burst: int) -> None:
        self.i18n = i18n
        self.rate = rate
        self.burst = burst
        self._buckets: dict[int, tuple[float, float, bool]] = {}  # user -> (tokens, stamp, warned)

    def _allow(self, user_id: int) -> tuple[bool, bool]:
        now = time.monotonic()
        tokens, stamp, warned = self._buckets.get(user_id, (float(self.burst), now, False))
        tokens = min(float(self.burst), tokens + (now - stamp) * self.rate)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, now, False)
            return True, False
        self._buckets[user_id] = (tokens, now, True)
        return False, not warned

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        allowed, warn = self._allow(user.id)
        if len(self._buckets) > 10_000:  # forget idle users so memory stays flat
            horizon = time.monotonic() - self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if v[1] > horizon}
        if allowed:
            return await handler(event, data)
        log.info("throttled an update from user %s", user.id)
        if warn and isinstance(event, Update) and event.message is not None:
            locale = locale_from_telegram(user.language_code) or self.i18n.default_locale
            text = self.i18n.gettext("You are sending messages too fast. Please wait a moment.", locale=locale)
            await event.message.answer(text)
        return None


class ButtonGuardMiddleware(BaseMiddleware):
    """Refuses callback data that is not on the pressed message's current keyboard.

    Telegram shows us the message as it is now; a modified client can still send any
    data, and a button removed from a menu must stop working.
    """

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, CallbackQuery)
        message = event.message
        markup = message.reply_markup if isinstance(message, Message) else None
        offered = {button.callback_data for row in (markup.inline_keyboard if markup else []) for button in row}
        if event.data in offered:
            return await handler(event, data)
        log.info("refused callback %r from user %s: not on the message", event.data, event.from_user.id)
        await event.answer(self.i18n.gettext("This menu has expired. Please start again."), show_alert=True)
        return None


class DbSessionMiddleware(BaseMiddleware):
    """One database session per update, committed when the handler succeeds."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            data["session"] = session
            data["repo"] = Repo(session)
            token = update_session.set(session)
            try:
                result = await handler(event, data)
                await session.commit()
            finally:
                update_session.reset(token)
            return result


class MemberMiddleware(BaseMiddleware):
    """Loads the member behind the update (None before registration)."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        member = None
        if user is not None and not user.is_bot:
            repo: Repo = data["repo"]
            member = await repo.members.by_telegram_id(user.id)
            if member is not None and not (isinstance(event, Update) and event.my_chat_member):
                await reactivate(data["session"], member)
        data["member"] = member
        return await handler(event, data)


class LocaleMiddleware(I18nMiddleware):
    """The member's stored locale, else one chosen before registering, else Telegram's, else the default."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        member = data.get("member")
        stored = member.locale if member is not None else None
        if stored is None:
            state: FSMContext | None = data.get("state")
            if state is not None:
                stored = (await state.get_data()).get("locale")
        user: User | None = data.get("event_from_user")
        return resolve_locale(stored, user.language_code if user else None, self.i18n.default_locale)
