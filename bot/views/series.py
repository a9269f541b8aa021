"""🔁 Repeating an event: the rule's questions and keyboards, the refusals, the outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import get_day_names

from bot.callbacks import SeriesCB
from bot.i18n import babel_locale, escape, format_when
from bot.keyboards import TICK
from db.models import Event


def reason_text(reason: str) -> str:
    return {
        "series_too_many": _("A series can have at most 104 occurrences. Please send a smaller number or an earlier date."),
        "end_before_start": _("The end date is before the first occurrence. Please send a later date."),
        "series_weekdays": _("Please choose at least one weekday."),
        "series_first_day": _("The event's own day must be one of the chosen weekdays."),
        "series_already": _("This event already belongs to a series."),
        "series_empty": _("This rule gives no occurrence. Please choose another."),
    }.get(reason, _("This menu has expired. Please start again."))


def nth_weekday(day: date) -> int:
    """Which of its month's weekdays `day` is: 1 to 4, or -1 for the last (a fifth one)."""
    return -1 if (day.day - 1) // 7 >= 4 else (day.day - 1) // 7 + 1


def kind_question(event: Event, first: date, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """How should it repeat: weekly, monthly on the day, monthly on the nth weekday of `first`."""
    weekday = get_day_names("wide", locale=babel_locale(locale))[first.weekday()]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Every week"), callback_data=SeriesCB(a="w", id=event.id))
    builder.button(text=_("Every month on day {day}").format(day=first.day), callback_data=SeriesCB(a="md", id=event.id))
    nth = nth_weekday(first)
    label = _("Every month on the last {weekday}") if nth == -1 else _("Every month on {weekday} number {n}")
    builder.button(text=label.format(weekday=weekday, n=nth)[:64], callback_data=SeriesCB(a="mn", id=event.id))
    builder.adjust(1)
    return _("How should <b>{title}</b> repeat?").format(title=escape(event.title)), builder.as_markup()


def apply_to_all_question(event: Event) -> tuple[str, InlineKeyboardMarkup]:
    """An occurrence of a series: copy its details to every later one."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Apply to all later occurrences"), callback_data=SeriesCB(a="all", id=event.id))
    return (_("This event belongs to a series. Edit it first if needed, then copy its details, time of day and length "
              "to every later occurrence (each keeps its date)."), builder.as_markup())


def weekday_keyboard(event_id: int, chosen: Sequence[int], locale: str) -> InlineKeyboardMarkup:
    names = get_day_names("abbreviated", locale=babel_locale(locale))
    builder = InlineKeyboardBuilder()
    for index in range(7):
        builder.button(text=(TICK if index in chosen else "") + names[index], callback_data=SeriesCB(a="d", id=event_id, v=index))
    builder.button(text=_("Next ▶"), callback_data=SeriesCB(a="next", id=event_id))
    builder.adjust(4, 3, 1)
    return builder.as_markup()


def end_question(kind: str | None, month_day: int) -> str:
    text = _("How many times in all (2 to 104)? Or send the date of the last one, like 31.05.2027.")
    if kind == "md" and month_day >= 29:
        text += "\n\n" + _("Months without that day are skipped.")
    return text


def moderated_once() -> str:
    return _("📨 Sent to the secretariat for moderation, once for the whole series.")


def updated_text(changed: Sequence[Event]) -> str:
    return ngettext("🔁 {count} later occurrence was updated.", "🔁 {count} later occurrences were updated.", len(changed)).format(
        count=len(changed))


def created_text(events: Sequence[Event], locale: str) -> str:
    zone = events[0].timezone
    return ngettext("🔁 The series has {count} occurrence, from {first} to {last}.",
                    "🔁 The series has {count} occurrences, from {first} to {last}.", len(events)).format(
        count=len(events), first=format_when(events[0].starts_at, locale, zone, "medium"),
        last=format_when(events[-1].starts_at, locale, zone, "medium"))
