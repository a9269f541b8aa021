"""🔁 Repeat an event: weekly on chosen weekdays, monthly on the same day or the same weekday of the
month ("the second Saturday"), a number of times or until a date. The series is moderated once.

Behind the representatives' guard; whether this member may repeat this event, the service decides."""

from __future__ import annotations

import re
from datetime import date

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import SeriesCB
from bot.config import Settings
from bot.filters import CurrentMenu
from bot.guards import guard_representatives
from bot.notify import send_to_secretariat
from bot.numbers import IntRange, NumberError, parse_int
from bot.replies import edit_markup, edit_text
from bot.services import events as ev
from bot.services import series as se
from bot.states import SeriesForm
from bot.views.events import representative_only
from bot.views.series import (
    apply_to_all_question,
    created_text,
    end_question,
    kind_question,
    moderated_once,
    nth_weekday,
    reason_text,
    updated_text,
    weekday_keyboard,
)
from db.models import EventStatus, Member
from db.types import utcnow

router = guard_representatives(Router(name="series"), SeriesForm)
COUNT = IntRange(2, se.MAX_OCCURRENCES)
_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$", re.ASCII)


@router.callback_query(SeriesCB.filter(F.a == "start"))
async def start(query: CallbackQuery, callback_data: SeriesCB, state: FSMContext, session: AsyncSession,
                member: Member | None, i18n: I18n) -> None:
    try:
        event = await ev.check_can_manage(session, member, callback_data.id)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(representative_only(), show_alert=True)
        return
    if await se.series_of(session, event.id) is not None:  # editing the whole series from this occurrence
        text, markup = apply_to_all_question(event)
        await query.answer()
        await state.clear()
        sent = await query.message.answer(text, reply_markup=markup)  # type: ignore[union-attr]
        await state.update_data(menu_id=sent.message_id)
        return
    local = event.starts_at.astimezone(ev.zone_of(event.timezone)).date()
    await state.set_state(SeriesForm.kind)
    await state.update_data(ser_event=event.id, ser_weekdays=[local.weekday()], ser_day=local.day,
                            ser_nth=nth_weekday(local), ser_weekday=local.weekday())
    await query.answer()
    text, markup = kind_question(event, local, i18n.current_locale)
    sent = await query.message.answer(text, reply_markup=markup)  # type: ignore[union-attr]
    await state.update_data(menu_id=sent.message_id)


@router.callback_query(SeriesCB.filter(F.a == "all"), CurrentMenu())
async def apply_to_all(query: CallbackQuery, callback_data: SeriesCB, session: AsyncSession,
                       member: Member | None, bot: Bot, i18n: I18n, settings: Settings) -> None:
    try:
        changed = await se.apply_to_series(session, member, callback_data.id, utcnow())
    except (ev.NotAllowed, ev.EventNotFound, ev.WrongStatus, ev.InvalidEventField):
        await query.answer(representative_only(), show_alert=True)
        return
    text = updated_text(changed)
    pending = [e for e in changed if e.status == EventStatus.PENDING.value]
    if pending:
        text += "\n" + moderated_once()
    await edit_text(query.message, text, reply_markup=None)  # commits the changes first (bot/transaction.py)
    await query.answer()
    if pending:
        await send_to_secretariat(bot, session, i18n, settings.secretariat_ids, pending[0], member)


@router.callback_query(SeriesForm.kind, SeriesCB.filter(F.a.in_({"w", "md", "mn"})), CurrentMenu())
async def kind_chosen(query: CallbackQuery, callback_data: SeriesCB, state: FSMContext, i18n: I18n) -> None:
    await state.update_data(ser_kind=callback_data.a)
    await query.answer()
    if callback_data.a == "w":
        await state.set_state(SeriesForm.weekdays)
        chosen = (await state.get_data())["ser_weekdays"]
        await edit_text(query.message, _("On which weekdays?"), reply_markup=weekday_keyboard(callback_data.id, chosen, i18n.current_locale))
        return
    await _ask_end(query, state)


@router.callback_query(SeriesForm.weekdays, SeriesCB.filter(F.a == "d"), CurrentMenu())
async def weekday_toggled(query: CallbackQuery, callback_data: SeriesCB, state: FSMContext, i18n: I18n) -> None:
    if not 0 <= callback_data.v <= 6:
        await query.answer(reason_text(""), show_alert=True)
        return
    chosen = list((await state.get_data()).get("ser_weekdays") or [])
    chosen = [d for d in chosen if d != callback_data.v] if callback_data.v in chosen else sorted(chosen + [callback_data.v])
    await state.update_data(ser_weekdays=chosen)
    await edit_markup(query.message, reply_markup=weekday_keyboard(callback_data.id, chosen, i18n.current_locale))
    await query.answer()


@router.callback_query(SeriesForm.weekdays, SeriesCB.filter(F.a == "next"), CurrentMenu())
async def weekdays_done(query: CallbackQuery, state: FSMContext) -> None:
    if not (await state.get_data()).get("ser_weekdays"):
        await query.answer(reason_text("series_weekdays"), show_alert=True)
        return
    await query.answer()
    await _ask_end(query, state)


async def _ask_end(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(SeriesForm.end)
    data = await state.get_data()
    await edit_text(query.message, end_question(data.get("ser_kind"), data.get("ser_day", 0)), reply_markup=None)


def _rule(data: dict, until: date | None, count: int | None) -> se.Rule:  # type: ignore[type-arg]
    kind = data.get("ser_kind")
    if kind == "w":
        return se.Rule("weekly", weekdays=tuple(data.get("ser_weekdays") or ()), until=until, count=count)
    if kind == "md":
        return se.Rule("monthly", month_day=int(data["ser_day"]), until=until, count=count)
    return se.Rule("monthly", nth=int(data["ser_nth"]), weekday=int(data["ser_weekday"]), until=until, count=count)


@router.message(SeriesForm.end, F.text, ~F.text.startswith("/"))
async def end_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, bot: Bot,
                    i18n: I18n, settings: Settings) -> None:
    data = await state.get_data()
    typed = " ".join((message.text or "").split())
    until, count = None, None
    if (match := _DATE.match(typed)) is not None:
        try:
            until = date(int(match[3]), int(match[2]), int(match[1]))
        except ValueError:
            await message.answer(_("I could not read that date. Please type it like 31.05.2027."))
            return
    else:
        value = parse_int(typed, IntRange(1, 10**9), i18n.current_locale, grouping=True)
        if isinstance(value, NumberError):
            await message.answer(_("Please send a number from 2 to 104, or a date like 31.05.2027."))
            return
        if value > se.MAX_OCCURRENCES:
            await message.answer(reason_text("series_too_many"))
            return
        if value < 2:
            await message.answer(_("Please send a number from 2 to 104, or a date like 31.05.2027."))
            return
        count = value
    try:
        _series, events = await se.extend_into_series(session, member, int(data["ser_event"]), _rule(data, until, count), utcnow())
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    except (ev.NotAllowed, ev.EventNotFound, ev.WrongStatus):
        await state.clear()
        await message.answer(representative_only())
        return
    await state.clear()
    pending = events[0].status == EventStatus.PENDING.value
    text = created_text(events, i18n.current_locale)
    if pending:
        text += "\n" + moderated_once()
    await message.answer(text)  # commits the series first (bot/transaction.py)
    if pending:
        await send_to_secretariat(bot, session, i18n, settings.secretariat_ids, events[0], member)
