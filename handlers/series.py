"""🔁 Repeat an event: weekly on chosen weekdays, monthly on the same day or the same weekday of the
month ("the second Saturday"), a number of times or until a date. The series is moderated once."""

from __future__ import annotations

import re
from datetime import date

from aiogram import Bot, F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import get_day_names
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import SeriesCB
from bot.config import Settings
from bot.filters import CurrentMenu
from bot.i18n import babel_locale, escape, format_when
from bot.keyboards import TICK
from bot.replies import edit_markup, edit_text
from bot.services import events as ev
from bot.services import series as se
from bot.numbers import IntRange, NumberError, parse_int
from db.models import EventStatus, Member
from db.types import utcnow

router = Router(name="series")
COUNT = IntRange(2, se.MAX_OCCURRENCES)
_DATE = re.compile(r"^(\d{1,2})[./-](\d{1,2})[./-](\d{4})$", re.ASCII)


class SeriesForm(StatesGroup):
    kind = State()
    weekdays = State()
    end = State()



def reason_text(reason: str) -> str:
    return {
        "series_too_many": _("A series can have at most 104 occurrences. Please send a smaller number or an earlier date."),
        "end_before_start": _("The end date is before the first occurrence. Please send a later date."),
        "series_weekdays": _("Please choose at least one weekday."),
        "series_first_day": _("The event's own day must be one of the chosen weekdays."),
        "series_already": _("This event already belongs to a series."),
        "series_empty": _("This rule gives no occurrence. Please choose another."),
    }.get(reason, _("This menu has expired. Please start again."))


def _nth(day: date) -> int:
    return -1 if (day.day - 1) // 7 >= 4 else (day.day - 1) // 7 + 1


@router.callback_query(SeriesCB.filter(F.a == "start"))
async def start(query: CallbackQuery, callback_data: SeriesCB, state: FSMContext, session: AsyncSession,
                member: Member | None, i18n: I18n) -> None:
    try:
        event = await ev.check_can_manage(session, member, callback_data.id)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(_("Only a representative of this organisation can do this."), show_alert=True)
        return
    if await se.series_of(session, event.id) is not None:  # editing the whole series from this occurrence
        builder = InlineKeyboardBuilder()
        builder.button(text=_("Apply to all later occurrences"), callback_data=SeriesCB(a="all", id=event.id))
        await query.answer()
        await state.clear()
        sent = await query.message.answer(  # type: ignore[union-attr]
            _("This event belongs to a series. Edit it first if needed, then copy its details, time of day and length "
              "to every later occurrence (each keeps its date)."), reply_markup=builder.as_markup())
        await state.update_data(menu_id=sent.message_id)
        return
    local = event.starts_at.astimezone(ev.zone_of(event.timezone)).date()
    weekday = get_day_names("wide", locale=babel_locale(i18n.current_locale))[local.weekday()]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Every week"), callback_data=SeriesCB(a="w", id=event.id))
    builder.button(text=_("Every month on day {day}").format(day=local.day), callback_data=SeriesCB(a="md", id=event.id))
    nth = _nth(local)
    label = _("Every month on the last {weekday}") if nth == -1 else _("Every month on {weekday} number {n}")
    builder.button(text=label.format(weekday=weekday, n=nth)[:64], callback_data=SeriesCB(a="mn", id=event.id))
    builder.adjust(1)
    await state.set_state(SeriesForm.kind)
    await state.update_data(ser_event=event.id, ser_weekdays=[local.weekday()], ser_day=local.day, ser_nth=nth,
                            ser_weekday=local.weekday())
    await query.answer()
    sent = await query.message.answer(_("How should <b>{title}</b> repeat?").format(title=escape(event.title)),  # type: ignore[union-attr]
                                      reply_markup=builder.as_markup())
    await state.update_data(menu_id=sent.message_id)


@router.callback_query(SeriesCB.filter(F.a == "all"), CurrentMenu())
async def apply_to_all(query: CallbackQuery, callback_data: SeriesCB, state: FSMContext, session: AsyncSession,
                       member: Member | None, bot: Bot, i18n: I18n, settings: Settings) -> None:
    from handlers.events import _send_to_secretariat

    try:
        changed = await se.apply_to_series(session, member, callback_data.id, utcnow())
    except (ev.NotAllowed, ev.EventNotFound, ev.WrongStatus, ev.InvalidEventField):
        await query.answer(_("Only a representative of this organisation can do this."), show_alert=True)
        return
    await session.commit()
    text = ngettext("🔁 {count} later occurrence was updated.", "🔁 {count} later occurrences were updated.", len(changed)).format(
        count=len(changed))
    pending = [e for e in changed if e.status == EventStatus.PENDING.value]
    if pending:
        text += "\n" + _("📨 Sent to the secretariat for moderation, once for the whole series.")
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()
    if pending:
        await _send_to_secretariat(bot, session, i18n, settings, pending[0], member)


def _weekday_markup(event_id: int, chosen: list[int], locale: str):  # type: ignore[no-untyped-def]
    names = get_day_names("abbreviated", locale=babel_locale(locale))
    builder = InlineKeyboardBuilder()
    for index in range(7):
        builder.button(text=(TICK if index in chosen else "") + names[index], callback_data=SeriesCB(a="d", id=event_id, v=index))
    builder.button(text=_("Next ▶"), callback_data=SeriesCB(a="next", id=event_id))
    builder.adjust(4, 3, 1)
    return builder.as_markup()


@router.callback_query(SeriesForm.kind, SeriesCB.filter(F.a.in_({"w", "md", "mn"})), CurrentMenu())
async def kind_chosen(query: CallbackQuery, callback_data: SeriesCB, state: FSMContext, i18n: I18n) -> None:
    await state.update_data(ser_kind=callback_data.a)
    await query.answer()
    if callback_data.a == "w":
        await state.set_state(SeriesForm.weekdays)
        await edit_text(query.message, _("On which weekdays?"),
                        reply_markup=_weekday_markup(callback_data.id, (await state.get_data())["ser_weekdays"], i18n.current_locale))
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
    await edit_markup(query.message, reply_markup=_weekday_markup(callback_data.id, chosen, i18n.current_locale))
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
    text = _("How many times in all (2 to 104)? Or send the date of the last one, like 31.05.2027.")
    if (await state.get_data()).get("ser_kind") == "md" and (await state.get_data()).get("ser_day", 0) >= 29:
        text += "\n\n" + _("Months without that day are skipped.")
    await edit_text(query.message, text, reply_markup=None)


@router.message(SeriesForm.end, F.text, ~F.text.startswith("/"))
async def end_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, bot: Bot,
                    i18n: I18n, settings: Settings) -> None:
    from handlers.events import _send_to_secretariat

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
    kind = data.get("ser_kind")
    if kind == "w":
        rule = se.Rule("weekly", weekdays=tuple(data.get("ser_weekdays") or ()), until=until, count=count)
    elif kind == "md":
        rule = se.Rule("monthly", month_day=int(data["ser_day"]), until=until, count=count)
    else:
        rule = se.Rule("monthly", nth=int(data["ser_nth"]), weekday=int(data["ser_weekday"]), until=until, count=count)
    try:
        _series, events = await se.extend_into_series(session, member, int(data["ser_event"]), rule, utcnow())
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    except (ev.NotAllowed, ev.EventNotFound, ev.WrongStatus):
        await state.clear()
        await message.answer(_("Only a representative of this organisation can do this."))
        return
    await state.clear()
    await session.commit()
    locale, zone = i18n.current_locale, events[0].timezone
    text = ngettext("🔁 The series has {count} occurrence, from {first} to {last}.", "🔁 The series has {count} occurrences, from {first} to {last}.",
                    len(events)).format(count=len(events), first=format_when(events[0].starts_at, locale, zone, "medium"),
                                        last=format_when(events[-1].starts_at, locale, zone, "medium"))
    if events[0].status == EventStatus.PENDING.value:
        text += "\n" + _("📨 Sent to the secretariat for moderation, once for the whole series.")
    await message.answer(text)
    if events[0].status == EventStatus.PENDING.value:
        await _send_to_secretariat(bot, session, i18n, settings, events[0], member)
