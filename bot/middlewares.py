"""Update middlewares: throttle, database session, member, locale."""

from __future__ import annotations

import logging
import time
from typing import Any, Awaitable, Callable

from aiogram import BaseMiddleware
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from sqlalchemy import bindparam, literal, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.fsm_storage import Conversation, DatabaseStorage, storage_key
from bot.transaction import UpdateScope, current_scope
from bot.i18n import resolve_locale
from bot.services.members import reactivate
from db.models import FsmRecord, Member
from db.repositories import Repo

log = logging.getLogger(__name__)
Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ThrottleMiddleware(BaseMiddleware):
    """A token bucket per user, timed by the message's own date: floods are dropped before
    they reach the database, but a backlog delivered late (after an outage) is not a flood.

    Telegram stamps every message with the second it was sent; a button press has no date and
    is timed on arrival. The warning is in the member's chosen language (their row), and a
    throttled button press is answered (with the warning) so the client stops spinning.
    """

    def __init__(self, i18n: I18n, rate: float, burst: int,
                 session_factory: async_sessionmaker[AsyncSession] | None = None) -> None:
        self.i18n = i18n
        self.rate = rate
        self.burst = burst
        self.session_factory = session_factory
        self._buckets: dict[int, tuple[float, float, bool]] = {}  # user -> (tokens, stamp, warned)

    def _allow(self, user_id: int, sent_at: float) -> tuple[bool, bool]:
        tokens, stamp, warned = self._buckets.get(user_id, (float(self.burst), sent_at, False))
        # An older date than the last one seen (updates can arrive out of order) refills nothing.
        tokens = min(float(self.burst), tokens + max(0.0, sent_at - stamp) * self.rate)
        stamp = max(stamp, sent_at)
        if tokens >= 1:
            self._buckets[user_id] = (tokens - 1, stamp, False)
            return True, False
        self._buckets[user_id] = (tokens, stamp, True)
        return False, not warned

    @staticmethod
    def _sent_at(event: TelegramObject) -> float:
        message = None
        if isinstance(event, Update):
            message = event.message or event.edited_message
        if message is not None and message.date is not None:
            if event.edited_message is not None and message.edit_date:  # type: ignore[union-attr]
                return float(message.edit_date)  # type: ignore[arg-type]
            return message.date.timestamp()
        return time.time()

    async def _locale(self, user: User) -> str:
        stored = None
        if self.session_factory is not None:
            async with self.session_factory() as session:
                stored = await session.scalar(select(Member.locale).where(Member.telegram_id == user.id))
        return resolve_locale(stored, user.language_code, self.i18n.default_locale)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        sent_at = self._sent_at(event)
        allowed, warn = self._allow(user.id, sent_at)
        if len(self._buckets) > 10_000:  # forget idle users so memory stays flat
            horizon = max(stamp for _, stamp, _ in self._buckets.values()) - self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if v[1] > horizon}
        if allowed:
            return await handler(event, data)
        log.info("throttled an update from user %s", user.id)
        callback = event.callback_query if isinstance(event, Update) else None
        if not warn and callback is None:
            return None
        text = self.i18n.gettext("You are sending messages too fast. Please wait a moment.", locale=await self._locale(user))
        if callback is not None:
            await callback.answer(text)
        elif isinstance(event, Update) and event.message is not None:
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
    """One database session per update, committed when the handler succeeds.

    The session is also committed before every Bot API request made while the update is
    handled (`bot.transaction.CommitBeforeRequest`), so no transaction is held open while we
    wait for Telegram. `data["after_commit"](hook)` runs `hook` once the last commit succeeded.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.session_factory = session_factory

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.session_factory() as session:
            scope = UpdateScope(session)
            data["session"] = session
            data["repo"] = Repo(session)
            data["after_commit"] = scope.after_commit
            token = current_scope.set(scope)
            try:
                result = await handler(event, data)
                await scope.commit()  # nothing to commit (a read only, already committed): no work
            finally:
                current_scope.reset(token)
        if scope.hooks:
            await scope.run_hooks()
        return result


class MemberMiddleware(BaseMiddleware):
    """Loads the member behind the update (None before registration).

    With `fsm` (aiogram's FSM middleware, which runs next) over our DatabaseStorage, the
    conversation record is read in the same statement (one row: the member and the record,
    either of them possibly missing) and handed to the update's FSM cache, so the FSM's own
    read finds it there: one statement per update instead of two."""

    def __init__(self, fsm: FSMContextMiddleware | None = None) -> None:
        self.fsm = fsm if fsm is not None and isinstance(fsm.storage, DatabaseStorage) else None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        member = None
        if user is not None and not user.is_bot:
            session: AsyncSession = data["session"]
            context = self.fsm.resolve_event_context(data["bot"], data) if self.fsm is not None else None
            scope = current_scope.get()
            if context is not None and scope is not None:
                key = storage_key(context.key)
                member, stored, state, fsm_data = (await session.execute(
                    _MEMBER_AND_CONVERSATION, {"user_id": user.id, "fsm_key": key})).one()
                scope.fsm_cache[key] = Conversation(state, fsm_data, True) if stored is not None else None
            else:
                member = await Repo(session).members.by_telegram_id(user.id)
            if member is not None and not (isinstance(event, Update) and event.my_chat_member):
                await reactivate(session, member)
        data["member"] = member
        return await handler(event, data)


_ONE_ROW = select(literal(1).label("one")).subquery("one_row")  # what the outer joins hang on
# Built once: the member (an ORM object, handlers change it) and the conversation's columns.
_MEMBER_AND_CONVERSATION = (
    select(Member, FsmRecord.key, FsmRecord.state, FsmRecord.data).select_from(_ONE_ROW)
    .outerjoin(Member, Member.telegram_id == bindparam("user_id"))
    .outerjoin(FsmRecord, FsmRecord.key == bindparam("fsm_key"))
)


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
