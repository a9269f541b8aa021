"""/events: upcoming events near the member, then from what they follow, filtered by date and
paged; "My events" (Going, Maybe, waitlisted); and the cards a deep link opens.

Cards are rendered by the directory and events modules; this module only lists and routes.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_date
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import CardCB, MenuCB
from bot.deeplinks import remember_bot
from bot.i18n import babel_locale, capitalise, escape, format_distance, format_when, pgettext
from bot.replies import edit_text
from bot.services import event_list as evl
from bot.services.events import zone_of
from db.models import EventStatus, Member, RsvpStatus
from db.types import utcnow

router = Router(name="event_list")


@router.startup()
async def remember_bot_username(bot: Bot) -> None:
    """Share links need the bot's username: learn it once, at start-up."""
    await remember_bot(bot)

PAGE = 5
_DATE = re.compile(r"^\s*(?:(?P<y1>\d{4})-(?P<m1>\d{1,2})-(?P<d1>\d{1,2})|(?P<d2>\d{1,2})[./](?P<m2>\d{1,2})(?:[./](?P<y2>\d{2}|\d{4}))?)\s*$")


class EventListCB(CallbackData, prefix="evl"):
    """A view of /events: v u (upcoming) or m (mine) or p (day picker); f the period; d a day
    (YYYYMMDD) or the picker's month (YYYYMM); o the page offset."""

    v: str = "u"
    f: str = "all"
    d: int = 0
    o: int = 0


def _registered(member: Member | None) -> bool:
    return member is not None and member.registered_at is not None


def _expired() -> str:
    return _("This menu has expired. Please start again.")


def parse_day(text: str, today: date) -> date | None:
    """25.12.2026, 25/12/2026, 2026-12-25 or 25.12 (the next such day); None if unreadable."""
    match = _DATE.match(text)
    if not match:
        return None
    try:
        if match["y1"]:
            return date(int(match["y1"]), int(match["m1"]), int(match["d1"]))
        year = match["y2"]
        if year is None:
            day = date(today.year, int(match["m2"]), int(match["d2"]))
            return day if day >= today else date(today.year + 1, day.month, day.day)
        return date(int(year) + (2000 if len(year) == 2 else 0), int(match["m2"]), int(match["d2"]))
    except ValueError:
        return None


def _day_code(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def _code_day(code: int) -> date | None:
    try:
        return date(code // 10000, code // 100 % 100, code % 100)
    except ValueError:
        return None


# --- /events -----------------------------------------------------------------------------

@router.message(Command("events"))
async def events_command(message: Message, command: CommandObject, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if not _registered(member):
        await message.answer(_("Please register first: send /start."))
        return
    view = EventListCB()
    if command.args:
        day = parse_day(command.args, evl.local_today(member.timezone, utcnow()))  # type: ignore[union-attr]
        if day is None:
            await message.answer(_("I could not read that date. Send it like this: /events 25.12.2026"))
            return
        refusal = _day_refusal(day, member, utcnow(), i18n.current_locale)  # type: ignore[arg-type]
        if refusal:
            await message.answer(refusal)
            return
        view = EventListCB(f="day", d=_day_code(day))
    text, markup = await render_upcoming(session, member, view, i18n.current_locale)  # type: ignore[arg-type]
    await message.answer(text, reply_markup=markup, disable_web_page_preview=True)


@router.callback_query(MenuCB.filter(F.action.in_({"events", "my_answers"})))
async def events_from_menu(query: CallbackQuery, callback_data: MenuCB, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if not _registered(member):
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    render = render_mine if callback_data.action == "my_answers" else render_upcoming
    text, markup = await render(session, member, EventListCB(v="m" if callback_data.action == "my_answers" else "u"), i18n.current_locale)  # type: ignore[arg-type]
    await query.message.answer(text, reply_markup=markup, disable_web_page_preview=True)  # type: ignore[union-attr]
    await query.answer()


@router.callback_query(EventListCB.filter())
async def view_changed(query: CallbackQuery, callback_data: EventListCB, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if not _registered(member):
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    locale = i18n.current_locale
    if callback_data.v not in ("u", "m", "p") or callback_data.f not in evl.PERIODS or callback_data.o < 0:
        await query.answer(_expired(), show_alert=True)
        return
    if callback_data.v == "p":
        text, markup = day_picker(member, callback_data.d, locale)  # type: ignore[arg-type]
    elif callback_data.v == "m":
        text, markup = await render_mine(session, member, callback_data, locale)  # type: ignore[arg-type]
    else:
        if callback_data.f == "day":
            day = _code_day(callback_data.d)
            refusal = _day_refusal(day, member, utcnow(), locale) if day else _expired()  # type: ignore[arg-type]
            if refusal:
                await query.answer(refusal, show_alert=True)
                return
        text, markup = await render_upcoming(session, member, callback_data, locale)  # type: ignore[arg-type]
    await edit_text(query.message, text, reply_markup=markup, disable_web_page_preview=True)
    await query.answer()


def _day_refusal(day: date, member: Member, now: datetime, locale: str) -> str | None:
    """A polite no for a day in the past or past the two-year horizon; None when the day is fine."""
    if day < evl.local_today(member.timezone, now):
        return _("That day has already passed. Please pick today or a later day.")
    if day > evl.latest_day(member.timezone, now):
        return _("That is more than two years ahead. Please give a date within the next two years.")
    return None


def _period_title(win: evl.Window, count: int, locale: str, zone: str | None) -> str:
    if win.period == "week":
        return _("<b>Events this week</b>: {count}").format(count=count)
    if win.period == "month":
        return _("<b>Events this month</b>: {count}").format(count=count)
    if win.period == "day" and win.day is not None:
        noon = datetime(win.day.year, win.day.month, win.day.day, 12, tzinfo=zone_of(zone))
        return _("<b>{day}</b> · events: {count}").format(day=capitalise(format_when(noon, locale, zone, "date"), locale), count=count)
    return _("<b>Upcoming events</b> near you and from what you follow: {count}").format(count=count)


async def render_upcoming(session: AsyncSession, member: Member, view: EventListCB, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The list for one view, and its buttons: numbers open cards, then pages, filters, My events."""
    now = utcnow()
    zone = member.timezone
    win = evl.window(view.f, zone, now, _code_day(view.d) if view.f == "day" else None)
    page = await evl.upcoming_for(session, member, win, offset=view.o, limit=PAGE)
    if view.o and not page.items and page.total:  # an old page button past the end: the last page
        view = EventListCB(v="u", f=view.f, d=view.d, o=(page.total - 1) // PAGE * PAGE)
        page = await evl.upcoming_for(session, member, win, offset=view.o, limit=PAGE)
    lines = [_period_title(win, page.total, locale, zone)]
    builder = InlineKeyboardBuilder()
    rows: list[int] = []
    if page.items:
        follow_header = False
        for number, item in enumerate(page.items, start=view.o + 1):
            if item.source == evl.SOURCE_FOLLOWED and not follow_header:
                lines.append("\n" + _("🔔 From what you follow:"))
                follow_header = True
            lines.append(_event_line(number, item, locale, zone))
            builder.button(text=str(number), callback_data=CardCB(k="e", id=item.event.id))
        rows.append(len(page.items))
    else:
        lines.append(_("Nothing in this period."))
        lines.append(_("Widen your radius in /settings, or follow organisers and cities from event cards."))
    nav = ([("◀", max(0, view.o - PAGE))] if view.o > 0 else []) + ([("▶", view.o + PAGE)] if page.has_next else [])
    for label, offset in nav:
        builder.button(text=label, callback_data=EventListCB(v="u", f=view.f, d=view.d, o=offset))
    if nav:
        rows.append(len(nav))
    tick = "✅ "
    for period, label in (("all", _("All upcoming")), ("week", _("This week")), ("month", _("This month"))):
        builder.button(text=f"{tick if view.f == period else ''}{label}", callback_data=EventListCB(v="u", f=period))
    builder.button(text=(tick if view.f == "day" else "") + _("📆 Pick a day"), callback_data=EventListCB(v="p"))
    builder.button(text=_("🎟 My events"), callback_data=EventListCB(v="m"))
    builder.adjust(*rows, 3, 2)
    return "\n".join(lines), builder.as_markup()


def _event_line(number: int, item: evl.ListedEvent, locale: str, zone: str | None) -> str:
    event = item.event
    details = [format_when(event.starts_at, locale, zone or event.timezone, "medium")]
    if item.host is not None:
        details.append(escape(item.host.name))
    if item.distance_km is not None:
        details.append(format_distance(item.distance_km, locale))
    elif event.city:
        details.append(escape(event.city))
    return f"{number}. 📅 <b>{escape(event.title)}</b>\n    " + " · ".join(details)


# --- the day picker --------------------------------------------------------------------------

def day_picker(member: Member, month_code: int, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """A month of day buttons from today to the horizon, with ◀ ▶ between months."""
    import calendar

    now = utcnow()
    today, last = evl.local_today(member.timezone, now), evl.latest_day(member.timezone, now)
    year, month = (month_code // 100, month_code % 100) if month_code else (today.year, today.month)
    if not (1 <= month <= 12) or (year, month) < (today.year, today.month) or (year, month) > (last.year, last.month):
        year, month = today.year, today.month
    builder = InlineKeyboardBuilder()
    days = [date(year, month, d) for d in range(1, calendar.monthrange(year, month)[1] + 1)]
    days = [d for d in days if today <= d <= last]
    for day in days:
        builder.button(text=str(day.day), callback_data=EventListCB(v="u", f="day", d=_day_code(day)))
    rows = [7] * (len(days) // 7) + ([len(days) % 7] if len(days) % 7 else [])
    nav = []
    previous = (year - 1, 12) if month == 1 else (year, month - 1)
    following = (year + 1, 1) if month == 12 else (year, month + 1)
    if previous >= (today.year, today.month):
        nav.append(("◀", previous[0] * 100 + previous[1]))
    if following <= (last.year, last.month):
        nav.append(("▶", following[0] * 100 + following[1]))
    for label, code in nav:
        builder.button(text=label, callback_data=EventListCB(v="p", d=code))
    builder.button(text=_("◀ Back to the list"), callback_data=EventListCB(v="u"))
    builder.adjust(*rows, *([len(nav)] if nav else []), 1)
    month_name = format_date(date(year, month, 1), "LLLL y", locale=babel_locale(locale))
    text = _("<b>{month}</b>: pick a day, or send /events and a date, for example /events 25.12.2026.").format(
        month=capitalise(month_name, locale))
    return text, builder.as_markup()


# --- My events ---------------------------------------------------------------------------

def answer_label(answered: evl.Answered) -> str:
    """How the member answered: going (with guests), maybe, on the waitlist; or that it was cancelled."""
    if answered.event.status == EventStatus.CANCELLED.value:
        return "❌ " + pgettext("event status", "cancelled")
    if answered.waitlisted:
        return "⏳ " + _("on the waitlist")
    if answered.status == RsvpStatus.GOING.value:
        label = "✅ " + _("Going")
        if answered.guests:
            label += " " + ngettext("(+{count} guest)", "(+{count} guests)", answered.guests).format(count=answered.guests)
        return label
    return "🤔 " + _("Maybe")


async def render_mine(session: AsyncSession, member: Member, view: EventListCB, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The member's upcoming answers, soonest first, with their status."""
    items, total = await evl.answered_by(session, member, utcnow(), offset=view.o, limit=PAGE)
    if view.o and not items and total:
        view = EventListCB(v="m", o=(total - 1) // PAGE * PAGE)
        items, total = await evl.answered_by(session, member, utcnow(), offset=view.o, limit=PAGE)
    builder = InlineKeyboardBuilder()
    rows: list[int] = []
    if items:
        lines = [_("<b>My events</b>: {count}").format(count=total)]
        for number, answered in enumerate(items, start=view.o + 1):
            event = answered.event
            when = format_when(event.starts_at, locale, member.timezone or event.timezone, "medium")
            lines.append(f"{number}. 📅 <b>{escape(event.title)}</b>\n    {when}\n    {answer_label(answered)}")
            builder.button(text=str(number), callback_data=CardCB(k="e", id=event.id))
        rows.append(len(items))
    else:
        lines = [_("You have not answered any upcoming event yet. Open one from /events and tap Going or Maybe.")]
    nav = ([("◀", max(0, view.o - PAGE))] if view.o > 0 else []) + ([("▶", view.o + PAGE)] if view.o + len(items) < total else [])
    for label, offset in nav:
        builder.button(text=label, callback_data=EventListCB(v="m", o=offset))
    if nav:
        rows.append(len(nav))
    builder.button(text=_("◀ Upcoming events"), callback_data=EventListCB(v="u"))
    builder.adjust(*rows, 1)
    return "\n".join(lines), builder.as_markup()
