"""Events: /submit_event for representatives, moderation for the secretariat (/pending),
RSVP buttons on event cards, edit and cancel, attendee lists, calendar files and feeds.

Texts and keyboards other modules send (reminders, decisions) are built here with `_()`;
senders render them inside `i18n.use_locale(...)`, so one module holds the feature's strings.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import MapCB
from bot.config import Settings
from bot.filters import CurrentMenu
from bot.geo import get_gazetteer
from bot.i18n import escape, format_when, resolve_locale
from bot.keyboards import TICK, city_label
from bot.labels import interest_label, language_label
from bot.replies import edit_markup, edit_text
from bot.services import calendar as cal
from bot.services import events as ev
from bot.services.numbers import ROW_ID, NumberError, parse_int
from bot.services.registration import mark_blocked
from bot.services.roles import is_secretariat, secretariat_chat_ids
from db.models import Event, EventStatus, Member, Organisation, Rsvp, RsvpStatus
from db.types import utcnow

log = logging.getLogger(__name__)
router = Router(name="events")

NOT_COMMAND = ~F.text.startswith("/")
ATTENDEES_PAGE = 50
QUICK_DAYS = 7
PENDING_SHOWN = 10
MAX_RETRY_AFTER = 30


class EventForm(StatesGroup):
    organisation = State()
    title = State()
    description = State()
    venue = State()
    start = State()
    end = State()
    languages = State()
    category = State()
    capacity = State()
    link = State()
    preview = State()


class RejectForm(StatesGroup):
    reason = State()


class FormCB(CallbackData, prefix="evf"):
    """A button of the event form: a (action) org, city, day, skip, lang, done, cat, field, submit, discard."""

    a: str
    v: str = ""


class RsvpCB(CallbackData, prefix="rsvp"):
    id: int
    s: str  # g: going, m: maybe, n: not going
    n: int = -1  # guests; -1 keeps the current number


class EventCB(CallbackData, prefix="ev"):
    """ics, att (attendees), edit, cancel, cancel_yes, keep, fo/fc (follow organiser/city), remoff, feednew, feedoff."""

    a: str
    id: int = 0
    o: int = 0


class ModCB(CallbackData, prefix="mod"):
    a: str  # ok or no
    id: int


STEPS = ("title", "description", "venue", "start", "end", "languages", "category", "capacity", "link")
RSVP_CODES = {"g": RsvpStatus.GOING.value, "m": RsvpStatus.MAYBE.value, "n": RsvpStatus.NOT_GOING.value}


# --- texts shared with other senders ------------------------------------------------------

def reason_text(reason: str) -> str:
    """Why a value was refused, in the current locale."""
    reasons = {
        "title_empty": _("The title cannot be empty. Please send a title."),
        "title_too_long": _("The title is too long: at most 120 characters, please."),
        "description_empty": _("The description cannot be empty. Please send a few words about the event."),
        "description_too_long": _("The description is too long: at most 2000 characters, please."),
        "date_format": _("I could not read that date. Please type it like 25.12.2026 18:30, 2026-12-25 18:30 or 25/12 18:30."),
        "nonexistent_time": _("That time does not exist on that day in the venue's time zone (the clocks change). Please choose another time."),
        "past": _("That moment has already passed. Please give a time in the future."),
        "too_far": _("That is more than two years ahead. Please give a date within the next two years."),
        "end_before_start": _("The end must be after the start. Please send the end again, or skip."),
        "too_long_duration": _("An event can last at most two weeks. Please send the end again, or skip."),
        "link": _("That does not look like a web link. Please send a link such as https://example.org, or skip."),
        "capacity": _("Please send the number of places as a whole number from 1 to 100000, or skip."),
        "venue_not_found": _("I could not find that place. Type the address and the city separated by a comma, "
                             "for example: Kulturhaus, Hauptstraße 5, Berlin. Or share the venue's location."),
        "reason_empty": _("The reason cannot be empty. Please write why the event is rejected."),
        "reason_too_long": _("The reason is too long: at most 500 characters, please."),
        "no_room_for_guests": _("There are not enough free places for that many guests."),
        "incomplete": _("The draft is incomplete. Please fill in every step."),
    }
    return reasons.get(reason, _("This menu has expired. Please start again."))


def _expired() -> str:
    return _("This menu has expired. Please start again.")


def counts_line(counts: ev.RsvpCounts | None, capacity: int | None) -> str | None:
    """"12 going (+3 guests) · 4 maybe · 2 waiting · 5 places left"; capacity alone in a preview."""
    if counts is None:
        return _("Places: {count}").format(count=capacity) if capacity else None
    parts = [_("{count} going").format(count=counts.going)]
    if counts.guests:
        parts[0] += " " + ngettext("(+{count} guest)", "(+{count} guests)", counts.guests).format(count=counts.guests)
    if counts.maybe:
        parts.append(_("{count} maybe").format(count=counts.maybe))
    if counts.waitlisted:
        parts.append(_("{count} on the waitlist").format(count=counts.waitlisted))
    if counts.capacity is not None:
        left = counts.seats_left or 0
        parts.append(ngettext("{count} place left", "{count} places left", left).format(count=left) if left else _("full"))
    return "👥 " + " · ".join(parts)


def event_card_text(event: Event, host: Organisation | None, locale: str, zone: str | None,
                    counts: ev.RsvpCounts | None = None) -> str:
    """The card members see: the directory's card, the category and the answers so far."""
    from handlers.directory import event_card  # here, so directory.open_card may import this module

    lines = [event_card(event, host, locale, zone)]
    if event.category:
        lines.append(_("Category: {value}").format(value=interest_label(event.category)))
    line = counts_line(counts, event.capacity)
    if line:
        lines.append(line)
    if event.status == EventStatus.CANCELLED.value:
        lines.insert(0, _("❌ <b>Cancelled</b>"))
    return "\n".join(lines)


def rsvp_keyboard(event: Event, rsvp: Rsvp | None, following_org: bool = False, following_city: bool = False) -> InlineKeyboardMarkup:
    """RSVP, guests, calendar, follow and map buttons for an event card."""
    builder = InlineKeyboardBuilder()
    rows: list[int] = []
    if event.status == EventStatus.APPROVED.value:
        current = rsvp.status if rsvp else None
        for code, label in (("g", _("Going")), ("m", _("Maybe")), ("n", _("Not going"))):
            mark = TICK if current == RSVP_CODES[code] else ""
            builder.button(text=f"{mark}{label}", callback_data=RsvpCB(id=event.id, s=code))
        rows.append(3)
        if rsvp is not None and rsvp.status == RsvpStatus.GOING.value:
            for guests in range(ev.GUESTS_MAX + 1):
                mark = TICK if rsvp.guests == guests else ""
                label = _("alone") if guests == 0 else f"+{guests}"
                builder.button(text=f"{mark}{label}", callback_data=RsvpCB(id=event.id, s="g", n=guests))
            rows.append(ev.GUESTS_MAX + 1)
    builder.button(text=_("📅 Add to calendar"), callback_data=EventCB(a="ics", id=event.id))
    rows.append(1)
    builder.button(text=(TICK if following_org else "🔔 ") + _("Follow the organiser"), callback_data=EventCB(a="fo", id=event.id))
    builder.button(text=(TICK if following_city else "🔔 ") + _("Follow the city"), callback_data=EventCB(a="fc", id=event.id))
    rows.append(2)
    if event.latitude is not None and event.longitude is not None:
        builder.button(text=_("📍 Show on map"), callback_data=MapCB(k="e", id=event.id))
        rows.append(1)
    builder.adjust(*rows)
    return builder.as_markup()


async def render_event_card(session: AsyncSession, event: Event, member: Member | None, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """Text and buttons of an event card for this member (call it from directory.open_card)."""
    host = await session.get(Organisation, event.organisation_id)
    counts = await ev.rsvp_counts(session, event)
    rsvp = await ev.member_rsvp(session, member, event.id)
    city_id = ev.event_city_id(event)
    following_org = await ev.is_following(session, member, organisation_id=event.organisation_id)
    following_city = city_id is not None and await ev.is_following(session, member, city_id=city_id)
    text = event_card_text(event, host, locale, member.timezone if member else None, counts)
    return text, rsvp_keyboard(event, rsvp, following_org, following_city)


def reminder_text(event: Event, kind: str, locale: str, zone: str | None) -> str:
    when = format_when(event.starts_at, locale, zone or event.timezone, "full")
    place = escape(", ".join(p for p in (event.venue, event.city) if p) or "—")
    if kind == "1h":
        text = _("⏰ In about an hour: <b>{title}</b>\n{when}\n{place}")
    else:
        text = _("⏰ Tomorrow: <b>{title}</b>\n{when}\n{place}")
    return text.format(title=escape(event.title), when=when, place=place)


def reminder_keyboard(event: Event) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📅 Add to calendar"), callback_data=EventCB(a="ics", id=event.id))
    builder.button(text=_("🔕 Stop event reminders"), callback_data=EventCB(a="remoff"))
    builder.adjust(1)
    return builder.as_markup()


def new_event_text(event: Event, host: Organisation | None, locale: str, zone: str | None) -> str:
    return _("🆕 A new event you may like:") + "\n\n" + event_card_text(event, host, locale, zone)


def promoted_text(event: Event, locale: str, zone: str | None) -> str:
    return _("🎉 A place has freed up: you are now going to <b>{title}</b> ({when}).").format(
        title=escape(event.title), when=format_when(event.starts_at, locale, zone or event.timezone, "medium"))


def cancelled_text(event: Event, locale: str, zone: str | None) -> str:
    return _("❌ <b>{title}</b> ({when}) has been cancelled by the organisers.").format(
        title=escape(event.title), when=format_when(event.starts_at, locale, zone or event.timezone, "medium"))


def approved_text(event: Event) -> str:
    return _("✅ Your event <b>{title}</b> was approved and is now listed.").format(title=escape(event.title))


def rejected_text(event: Event) -> str:
    return _("Your event <b>{title}</b> was not approved.\nReason: {reason}\n\nYou can edit it and send it again.").format(
        title=escape(event.title), reason=escape(event.reject_reason or "—"))


def manage_keyboard(event: Event) -> InlineKeyboardMarkup:
    """A representative's buttons for one of their events."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✏️ Edit"), callback_data=EventCB(a="edit", id=event.id))
    if event.status != EventStatus.CANCELLED.value:
        builder.button(text=_("❌ Cancel the event"), callback_data=EventCB(a="cancel", id=event.id))
    builder.button(text=_("👥 Attendees"), callback_data=EventCB(a="att", id=event.id))
    from handlers.org_buttons import manage_extras  # issue 15: message attendees, series

    rows = manage_extras(builder, event)
    builder.adjust(2, 1, *rows)
    return builder.as_markup()


def moderation_keyboard(event: Event) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Approve"), callback_data=ModCB(a="ok", id=event.id))
    builder.button(text=_("❌ Reject"), callback_data=ModCB(a="no", id=event.id))
    return builder.as_markup()


def moderation_text(event: Event, host: Organisation | None, submitter: Member | None, locale: str, zone: str | None) -> str:
    header = _("🗂 <b>To moderate</b> (event #{id}), from {organisation}, sent by {name}:").format(
        id=event.id, organisation=escape(host.name if host else "—"), name=escape(submitter.display_name if submitter and submitter.display_name else "—"))
    return header + "\n\n" + event_card_text(event, host, locale, zone)


# --- sending to other members -------------------------------------------------------------

async def send_rendered(bot: Bot, session: AsyncSession, i18n: I18n, member: Member,
                        render: Callable[[str, str | None], tuple[str, InlineKeyboardMarkup | None]],
                        document: tuple[bytes, str] | None = None) -> bool:
    """Render a message in the member's language and time zone and send it; failures are logged,
    a blocked bot marks the member inactive. True when it was delivered."""
    locale = resolve_locale(member.locale, None, i18n.default_locale)
    with i18n.context(), i18n.use_locale(locale):
        text, markup = render(locale, member.timezone)
    try:
        for attempt in range(2):
            try:
                await bot.send_message(member.telegram_id, text, reply_markup=markup, disable_web_page_preview=True)
                return True
            except TelegramRetryAfter as error:
                if attempt or error.retry_after > MAX_RETRY_AFTER:
                    return False
                await asyncio.sleep(error.retry_after)
    except TelegramForbiddenError:
        await mark_blocked(session, member.telegram_id)
        return False
    except TelegramAPIError as error:
        log.warning("events: could not write to chat %s: %s", member.telegram_id, error)
    except Exception:  # one recipient's network trouble must not stop the others
        log.exception("events: sending to chat %s failed", member.telegram_id)
    return False


async def announce_new_event(bot: Bot, session: AsyncSession, i18n: I18n, event: Event, now: datetime) -> tuple[int, int]:
    """Tell the event's audience (followers, members nearby with matching interests) outside their quiet hours.
    Returns (sent, skipped for quiet hours)."""
    host = await session.get(Organisation, event.organisation_id)
    sent = skipped = 0
    for member in await ev.event_audience(session, event):
        if ev.in_quiet_hours(member, now):
            skipped += 1  # the announcements engine will own deferred delivery
            continue
        rsvp = None

        def render(locale: str, zone: str | None, member: Member = member) -> tuple[str, InlineKeyboardMarkup]:
            return new_event_text(event, host, locale, zone), rsvp_keyboard(event, rsvp)

        sent += await send_rendered(bot, session, i18n, member, render)
        await asyncio.sleep(0.05)
    return sent, skipped


async def _send_to_secretariat(bot: Bot, session: AsyncSession, i18n: I18n, settings: Settings, event: Event, submitter: Member | None) -> None:
    host = await session.get(Organisation, event.organisation_id)
    for chat_id in await secretariat_chat_ids(session, settings.secretariat_ids):
        reader = (await ev.members_by_telegram_ids(session, [chat_id])).get(chat_id)
        target = reader or Member(telegram_id=chat_id, locale=None, timezone=None)
        await send_rendered(bot, session, i18n, target, lambda locale, zone: (
            moderation_text(event, host, submitter, locale, zone), moderation_keyboard(event)))


async def _tell_submitter(bot: Bot, session: AsyncSession, i18n: I18n, event: Event, approved: bool) -> None:
    submitter = await session.get(Member, event.submitted_by) if event.submitted_by else None
    if submitter is None or not submitter.is_active:
        return
    if approved:
        await send_rendered(bot, session, i18n, submitter, lambda locale, zone: (approved_text(event), None))
    else:
        await send_rendered(bot, session, i18n, submitter, lambda locale, zone: (rejected_text(event), manage_keyboard(event)))


# --- the form: helpers --------------------------------------------------------------------

async def _menu(message: Message, state: FSMContext, text: str, markup: Any = None) -> Message:
    """Send the step's question and remember it, so buttons of older menus are refused."""
    sent = await message.answer(text, reply_markup=markup, disable_web_page_preview=True)
    await state.update_data(menu_id=sent.message_id)
    return sent


async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("draft") or {})


async def _save(state: FSMContext, **values: Any) -> None:
    draft = await _draft(state)
    draft.update(values)
    await state.update_data(draft=draft)


async def _close(query: CallbackQuery, text: str) -> None:
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()


def _skip_keyboard(step: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Skip ▶"), callback_data=FormCB(a="skip", v=step))
    return builder.as_markup()


async def _next(message: Message, state: FSMContext, done: str, member: Member | None, locale: str) -> None:
    """After a step: back to the preview when reviewing, else the following step."""
    if (await state.get_data()).get("review"):
        await _preview(message, state, member, locale)
        return
    following = STEPS[STEPS.index(done) + 1] if done in STEPS[:-1] else None
    await _ask(message, state, following, member, locale)


async def _ask(message: Message, state: FSMContext, step: str | None, member: Member | None, locale: str) -> None:
    if step is None:
        await _preview(message, state, member, locale)
    elif step == "title":
        await state.set_state(EventForm.title)
        await _menu(message, state, _("What is the event called? Send a title of up to 120 characters."))
    elif step == "description":
        await state.set_state(EventForm.description)
        await _menu(message, state, _("Describe the event in up to 2000 characters."))
    elif step == "venue":
        await state.set_state(EventForm.venue)
        keyboard = ReplyKeyboardMarkup(
            keyboard=[[KeyboardButton(text=_("📍 Share the venue's location"), request_location=True)]],
            resize_keyboard=True, one_time_keyboard=True,
        )
        await _menu(message, state, _("Where does it take place? Share the venue's location (📎 → Location), "
                                      "or type the address and the city separated by a comma, for example: "
                                      "Kulturhaus, Hauptstraße 5, Berlin"), keyboard)
    elif step == "start":
        await _ask_start(message, state, locale)
    elif step == "end":
        await state.set_state(EventForm.end)
        await _menu(message, state, _("When does it end? Type a time such as 21:00, or a date and time. Or skip."), _skip_keyboard("end"))
    elif step == "languages":
        await state.set_state(EventForm.languages)
        await _menu(message, state, _("Which languages will be spoken? Tap all that apply, then Done."),
                    _languages_keyboard((await _draft(state)).get("languages") or [], locale))
    elif step == "category":
        await state.set_state(EventForm.category)
        builder = InlineKeyboardBuilder()
        for code in ev.EVENT_CATEGORIES:
            builder.button(text=interest_label(code)[:64], callback_data=FormCB(a="cat", v=code))
        builder.adjust(2)
        await _menu(message, state, _("What kind of event is it?"), builder.as_markup())
    elif step == "capacity":
        await state.set_state(EventForm.capacity)
        await _menu(message, state, _("How many places are there? Send a number, or skip if there is no limit."), _skip_keyboard("capacity"))
    elif step == "link":
        await state.set_state(EventForm.link)
        await _menu(message, state, _("Is there a web page for the event (tickets, details)? Send the link, or skip."), _skip_keyboard("link"))


def _languages_keyboard(chosen: list[str], locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in ev.EVENT_LANGUAGES:
        builder.button(text=f"{TICK if code in chosen else ''}{language_label(code, locale)}"[:64], callback_data=FormCB(a="lang", v=code))
    builder.button(text=_("Done ▶"), callback_data=FormCB(a="done", v="languages"))
    builder.adjust(*([2] * ((len(ev.EVENT_LANGUAGES) + 1) // 2)), 1)
    return builder.as_markup()


async def _ask_start(message: Message, state: FSMContext, locale: str) -> None:
    zone = ((await _draft(state)).get("venue") or {}).get("timezone") or "UTC"
    await state.set_state(EventForm.start)
    today = utcnow().astimezone(ev.zone_of(zone)).date()
    days = [today + timedelta(days=offset) for offset in range(QUICK_DAYS)]
    builder = InlineKeyboardBuilder()
    for day in days:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=ev.zone_of(zone))
        builder.button(text=format_when(noon, locale, zone, "EEE d MMM"), callback_data=FormCB(a="day", v=day.isoformat()))
    builder.adjust(4, 3)
    await state.update_data(days=[day.isoformat() for day in days], start_date=None)
    await _menu(message, state, _("When does it start? Type the date and time in the venue's time zone ({zone}), "
                                  "for example 25.12.2026 18:30 — or tap a day and then type the time.").format(zone=escape(zone)),
                builder.as_markup())


async def _preview(message: Message, state: FSMContext, member: Member | None, locale: str) -> None:
    """The card exactly as members will see it, with buttons to change any part or submit."""
    draft = await _draft(state)
    await state.set_state(EventForm.preview)
    await state.update_data(review=True)
    try:
        event = ev.event_from_draft(draft, utcnow())
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        await _ask(message, state, "start" if error.reason in ("past", "too_far", "nonexistent_time") else
                   "end" if error.reason in ("end_before_start", "too_long_duration") else _first_missing(draft), member, locale)
        return
    event.status = EventStatus.APPROVED.value
    host = Organisation(name=draft.get("organisation_name") or "")
    await message.answer(_("Preview — this is how members will see your event:"), reply_markup=ReplyKeyboardRemove())
    builder = InlineKeyboardBuilder()
    for step, label in (
        ("title", _("✏️ Title")), ("description", _("✏️ Description")), ("venue", _("✏️ Venue")),
        ("start", _("✏️ Start")), ("end", _("✏️ End")), ("languages", _("✏️ Languages")),
        ("category", _("✏️ Category")), ("capacity", _("✏️ Places")), ("link", _("✏️ Link")),
    ):
        builder.button(text=label, callback_data=FormCB(a="field", v=step))
    builder.button(text=_("📨 Submit"), callback_data=FormCB(a="submit"))
    builder.button(text=_("🗑 Discard"), callback_data=FormCB(a="discard"))
    builder.adjust(3, 3, 3, 2)
    await _menu(message, state, event_card_text(event, host, locale, member.timezone if member else None), builder.as_markup())


def _first_missing(draft: dict[str, Any]) -> str:
    for step, key in (("title", "title"), ("description", "description"), ("venue", "venue"), ("start", "start_local"),
                      ("category", "category")):
        if not draft.get(key):
            return step
    return "title"


# --- the form: steps ----------------------------------------------------------------------

@router.message(Command("submit_event"))
async def submit_event_command(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    organisations = await ev.represented_organisations(session, member)
    if not organisations:
        await message.answer(_("Only representatives of an organisation can submit events. "
                               "If you represent one, ask the secretariat to grant you the role."))
        return
    await state.set_state(EventForm.organisation)
    await state.update_data(draft={}, review=False, editing=None, org_ids=[o.id for o in organisations])
    if len(organisations) == 1:
        await _organisation_chosen(message, state, organisations[0], member, i18n.current_locale)
        return
    builder = InlineKeyboardBuilder()
    for organisation in organisations:
        builder.button(text=organisation.name[:64], callback_data=FormCB(a="org", v=str(organisation.id)))
    builder.adjust(1)
    await _menu(message, state, _("Which organisation holds the event?"), builder.as_markup())


@router.callback_query(EventForm.organisation, FormCB.filter(F.a == "org"), CurrentMenu())
async def organisation_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext, session: AsyncSession,
                              member: Member | None, i18n: I18n) -> None:
    organisations = {o.id: o for o in await ev.represented_organisations(session, member)}
    organisation_id = parse_int(callback_data.v, ROW_ID)
    organisation = organisations.get(organisation_id) if not isinstance(organisation_id, NumberError) else None
    if organisation is None or organisation.id not in (await state.get_data()).get("org_ids", []):
        await query.answer(_("Only a representative of this organisation can do this."), show_alert=True)
        return
    await _close(query, "🏛 " + escape(organisation.name))
    await _organisation_chosen(query.message, state, organisation, member, i18n.current_locale)  # type: ignore[arg-type]


async def _organisation_chosen(message: Message, state: FSMContext, organisation: Organisation, member: Member | None, locale: str) -> None:
    await _save(state, organisation_id=organisation.id, organisation_name=organisation.name)
    await _ask(message, state, "title", member, locale)


async def _text_step(message: Message, state: FSMContext, member: Member | None, i18n: I18n,
                     field: str, clean: Callable[[str | None], Any]) -> None:
    """A typed form field: cleaned and saved, then the next step; a bad value gets its reason and keeps the draft."""
    try:
        value = clean(message.text)
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    await _save(state, **{field: value})
    await _next(message, state, field, member, i18n.current_locale)


@router.message(EventForm.title, F.text, NOT_COMMAND)
async def title_given(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    await _text_step(message, state, member, i18n, "title", ev.clean_title)


@router.message(EventForm.description, F.text, NOT_COMMAND)
async def description_given(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    await _text_step(message, state, member, i18n, "description", ev.clean_description)


@router.message(EventForm.venue, F.location)
async def venue_shared(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    location = message.location
    try:
        venue = ev.venue_from_location(location.latitude, location.longitude)  # type: ignore[union-attr]
    except ValueError as error:
        await message.answer(reason_text(getattr(error, "reason", "venue_not_found")))
        return
    await _venue_chosen(message, state, venue, member, i18n.current_locale)


@router.message(EventForm.venue, F.text, NOT_COMMAND)
async def venue_typed(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    try:
        address, cities = ev.find_venue_cities(message.text or "")
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    if len(cities) == 1:
        await _venue_chosen(message, state, ev.venue_from_city(cities[0], address), member, i18n.current_locale)
        return
    await state.update_data(city_ids=[c.geoname_id for c in cities], address=address)
    builder = InlineKeyboardBuilder()
    for city in cities:
        builder.button(text=city_label(city, i18n.current_locale), callback_data=FormCB(a="city", v=str(city.geoname_id)))
    builder.adjust(1)
    await _menu(message, state, _("Which city is it in?"), builder.as_markup())


@router.callback_query(EventForm.venue, FormCB.filter(F.a == "city"), CurrentMenu())
async def venue_city_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    data = await state.get_data()
    city_id = parse_int(callback_data.v, ROW_ID)
    city = get_gazetteer().get(city_id) if city_id in data.get("city_ids", []) else None
    if city is None:
        await query.answer(_expired(), show_alert=True)
        return
    await _close(query, "📍 " + escape(city_label(city, i18n.current_locale)))
    await _venue_chosen(query.message, state, ev.venue_from_city(city, data.get("address")), member, i18n.current_locale)  # type: ignore[arg-type]


async def _venue_chosen(message: Message, state: FSMContext, venue: ev.Venue, member: Member | None, locale: str) -> None:
    place = ", ".join(p for p in (venue.name, venue.city) if p) or f"{venue.latitude:.4f}, {venue.longitude:.4f}"
    await message.answer(_("Venue: {place} (time zone {zone}).").format(place=escape(place), zone=escape(venue.timezone)),
                         reply_markup=ReplyKeyboardRemove())
    await _save(state, venue=venue.as_dict())
    await _next(message, state, "venue", member, locale)


@router.callback_query(EventForm.start, FormCB.filter(F.a == "day"), CurrentMenu())
async def start_day_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext) -> None:
    if callback_data.v not in (await state.get_data()).get("days", []):
        await query.answer(_expired(), show_alert=True)
        return
    await state.update_data(start_date=callback_data.v)
    await query.answer()
    await edit_markup(query.message, reply_markup=None)
    await _menu(query.message, state, _("Now type the start time, for example 18:30."))  # type: ignore[arg-type]


@router.message(EventForm.start, F.text, NOT_COMMAND)
async def start_given(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    data = await state.get_data()
    draft = dict(data.get("draft") or {})
    zone = (draft.get("venue") or {}).get("timezone") or "UTC"
    on_date = date.fromisoformat(data["start_date"]) if data.get("start_date") else None
    now = utcnow()
    try:
        local = ev.parse_local(message.text or "", zone, now, on_date)
        ev.check_start(ev.to_utc(local, zone), now)
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    draft["start_local"] = local.isoformat(timespec="minutes")
    if draft.get("end_local") and datetime.fromisoformat(draft["end_local"]) <= local:
        draft["end_local"] = None  # the old end no longer fits the new start
    await state.update_data(draft=draft)
    await message.answer(_("Starts: {when}").format(when=format_when(ev.to_utc(local, zone), i18n.current_locale, zone, "full")))
    await _next(message, state, "start", member, i18n.current_locale)


@router.message(EventForm.end, F.text, NOT_COMMAND)
async def end_given(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    draft = await _draft(state)
    zone = (draft.get("venue") or {}).get("timezone") or "UTC"
    start_local = datetime.fromisoformat(draft["start_local"])
    try:
        local = ev.parse_end(message.text or "", zone, start_local, utcnow())
        ev.check_end(ev.to_utc(start_local, zone), ev.to_utc(local, zone))
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    await _save(state, end_local=local.isoformat(timespec="minutes"))
    await _next(message, state, "end", member, i18n.current_locale)


@router.callback_query(EventForm.languages, FormCB.filter(F.a == "lang"), CurrentMenu())
async def language_toggled(query: CallbackQuery, callback_data: FormCB, state: FSMContext, i18n: I18n) -> None:
    if callback_data.v not in ev.EVENT_LANGUAGES:
        await query.answer(_expired(), show_alert=True)
        return
    chosen = list((await _draft(state)).get("languages") or [])
    chosen = [c for c in chosen if c != callback_data.v] if callback_data.v in chosen else chosen + [callback_data.v]
    await _save(state, languages=chosen)
    await edit_markup(query.message, reply_markup=_languages_keyboard(chosen, i18n.current_locale))
    await query.answer()


@router.callback_query(EventForm.languages, FormCB.filter(F.a == "done"), CurrentMenu())
async def languages_done(query: CallbackQuery, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    chosen = (await _draft(state)).get("languages") or []
    if not chosen:
        await query.answer(_("Please choose at least one language."), show_alert=True)
        return
    locale = i18n.current_locale
    await _close(query, _("Languages: {value}").format(value=escape(", ".join(language_label(c, locale) for c in chosen))))
    await _next(query.message, state, "languages", member, locale)  # type: ignore[arg-type]


@router.callback_query(EventForm.category, FormCB.filter(F.a == "cat"), CurrentMenu())
async def category_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    if callback_data.v not in ev.EVENT_CATEGORIES:
        await query.answer(_expired(), show_alert=True)
        return
    await _save(state, category=callback_data.v)
    await _close(query, _("Category: {value}").format(value=interest_label(callback_data.v)))
    await _next(query.message, state, "category", member, i18n.current_locale)  # type: ignore[arg-type]


@router.message(EventForm.capacity, F.text, NOT_COMMAND)
async def capacity_given(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    await _text_step(message, state, member, i18n, "capacity", lambda text: ev.clean_capacity(text, i18n.current_locale))


@router.message(EventForm.link, F.text, NOT_COMMAND)
async def link_given(message: Message, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    await _text_step(message, state, member, i18n, "link", ev.clean_link)


@router.callback_query(FormCB.filter(F.a == "skip"), CurrentMenu())
async def step_skipped(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    current = await state.get_state()
    if callback_data.v not in ("end", "capacity", "link") or current != getattr(EventForm, callback_data.v).state:
        await query.answer(_expired(), show_alert=True)
        return
    await _save(state, **{{"end": "end_local"}.get(callback_data.v, callback_data.v): None})
    await _close(query, _("Skipped."))
    await _next(query.message, state, callback_data.v, member, i18n.current_locale)  # type: ignore[arg-type]


@router.callback_query(EventForm.preview, FormCB.filter(F.a == "field"), CurrentMenu())
async def change_field(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    if callback_data.v not in STEPS:
        await query.answer(_expired(), show_alert=True)
        return
    await query.answer()
    await edit_markup(query.message, reply_markup=None)
    await _ask(query.message, state, callback_data.v, member, i18n.current_locale)  # type: ignore[arg-type]


@router.callback_query(EventForm.preview, FormCB.filter(F.a == "discard"), CurrentMenu())
async def discard(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await edit_markup(query.message, reply_markup=None)
    await query.answer()
    await query.message.answer(_("The draft was discarded."))  # type: ignore[union-attr]


@router.callback_query(EventForm.preview, FormCB.filter(F.a == "submit"), CurrentMenu())
async def submit(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, bot: Bot,
                 i18n: I18n, settings: Settings) -> None:
    data = await state.get_data()
    draft, editing = dict(data.get("draft") or {}), data.get("editing")
    now = utcnow()
    try:
        if editing:
            event = await ev.update_event(session, member, int(editing), draft, now)
        else:
            event = await ev.submit_event(session, member, draft, now)
    except ev.InvalidEventField as error:
        await query.answer(reason_text(error.reason), show_alert=True)
        return
    except (ev.NotAllowed, ev.EventNotFound, ev.WrongStatus):
        await state.clear()
        await query.answer(_("Only a representative of this organisation can do this."), show_alert=True)
        return
    promoted = await ev.promote_waitlist(session, event) if editing else []
    await state.clear()
    await edit_markup(query.message, reply_markup=None)
    await query.answer()
    await session.commit()  # the secretariat may press Approve before this update ends
    for person in promoted:
        await send_rendered(bot, session, i18n, person, lambda locale, zone: (promoted_text(event, locale, zone), None))
    if event.status == EventStatus.APPROVED.value:
        await query.message.answer(approved_text(event), reply_markup=manage_keyboard(event))  # type: ignore[union-attr]
        await announce_new_event(bot, session, i18n, event, now)
    else:
        await query.message.answer(  # type: ignore[union-attr]
            _("📨 Sent to the secretariat for moderation. You will hear the decision here."), reply_markup=manage_keyboard(event))
        await _send_to_secretariat(bot, session, i18n, settings, event, member)
    await session.commit()


# --- moderation ----------------------------------------------------------------------------

@router.message(Command("pending"))
async def pending_command(message: Message, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    if not await is_secretariat(session, member, settings.secretariat_ids):
        await message.answer(_("Only the secretariat can do this."))
        return
    events, total = await ev.pending_events(session, limit=PENDING_SHOWN)
    if not total:
        await message.answer(_("No events are waiting for moderation."))
        return
    await message.answer(ngettext("{count} event is waiting for moderation:", "{count} events are waiting for moderation; the oldest first:", total).format(count=total))
    for event in events:
        host = await session.get(Organisation, event.organisation_id)
        submitter = await session.get(Member, event.submitted_by) if event.submitted_by else None
        await message.answer(moderation_text(event, host, submitter, i18n.current_locale, member.timezone if member else None),
                             reply_markup=moderation_keyboard(event), disable_web_page_preview=True)


def _decision_refusal(error: Exception) -> str:
    if isinstance(error, ev.WrongStatus):
        return _("This event has already been decided: it is {status}.").format(status=status_label(error.status))
    if isinstance(error, ev.EventNotFound):
        return _("This entry is no longer listed.")
    return _("Only the secretariat can do this.")


def status_label(status: str) -> str:
    return {
        EventStatus.PENDING.value: _("waiting for moderation"),
        EventStatus.APPROVED.value: _("approved"),
        EventStatus.REJECTED.value: _("rejected"),
        EventStatus.CANCELLED.value: _("cancelled"),
    }.get(status, status)


@router.callback_query(ModCB.filter(F.a == "ok"))
async def approve(query: CallbackQuery, callback_data: ModCB, session: AsyncSession, member: Member | None, bot: Bot,
                  settings: Settings, i18n: I18n) -> None:
    now = utcnow()
    try:
        event = await ev.approve_event(session, member, callback_data.id, settings.secretariat_ids, now)
    except (ev.NotAllowed, ev.WrongStatus, ev.EventNotFound) as error:
        await query.answer(_decision_refusal(error), show_alert=True)
        return
    await session.commit()
    await edit_markup(query.message, reply_markup=None)
    await query.answer(_("Approved."))
    await query.message.answer(_("✅ Approved: <b>{title}</b>. The representative has been told.").format(  # type: ignore[union-attr]
        title=escape(event.title)))
    await _tell_submitter(bot, session, i18n, event, approved=True)
    await announce_new_event(bot, session, i18n, event, now)


@router.callback_query(ModCB.filter(F.a == "no"))
async def reject_asked(query: CallbackQuery, callback_data: ModCB, state: FSMContext, session: AsyncSession,
                       member: Member | None, settings: Settings) -> None:
    event = await ev.get_event(session, callback_data.id)
    error: Exception | None = None
    if not await is_secretariat(session, member, settings.secretariat_ids):
        error = ev.NotAllowed()
    elif event is None:
        error = ev.EventNotFound()
    elif event.status != EventStatus.PENDING.value:
        error = ev.WrongStatus(event.status)
    if error is not None or event is None:
        await query.answer(_decision_refusal(error or ev.EventNotFound()), show_alert=True)
        return
    await query.answer()
    await state.set_state(RejectForm.reason)
    await state.update_data(reject_id=event.id, moderation_message=query.message.message_id if query.message else None)
    await _menu(query.message, state, _("Why is <b>{title}</b> rejected? Send the reason; the representative will read it.").format(  # type: ignore[arg-type]
        title=escape(event.title)))


@router.message(RejectForm.reason, F.text, NOT_COMMAND)
async def reject_reason_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, bot: Bot,
                              settings: Settings, i18n: I18n) -> None:
    data = await state.get_data()
    try:
        event = await ev.reject_event(session, member, int(data.get("reject_id") or 0), message.text or "",
                                      settings.secretariat_ids, utcnow())
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    except (ev.NotAllowed, ev.WrongStatus, ev.EventNotFound) as error:
        await state.clear()
        await message.answer(_decision_refusal(error))
        return
    await state.clear()
    await session.commit()
    if data.get("moderation_message"):
        try:
            await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=data["moderation_message"], reply_markup=None)
        except TelegramBadRequest:
            pass
    await message.answer(_("❌ Rejected: <b>{title}</b>. The representative has been told the reason.").format(title=escape(event.title)))
    await _tell_submitter(bot, session, i18n, event, approved=False)


# --- a representative's events: edit, cancel, attendees -------------------------------------

@router.message(Command("my_events"))
async def my_events_command(message: Message, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    events = await ev.events_of_representative(session, member, utcnow())
    if not await ev.represented_organisations(session, member):
        await message.answer(_("Only representatives of an organisation can submit events. "
                               "If you represent one, ask the secretariat to grant you the role."))
        return
    if not events:
        await message.answer(_("Your organisations have no upcoming events. Send /submit_event to add one."))
        return
    for event in events:
        host = await session.get(Organisation, event.organisation_id)
        counts = await ev.rsvp_counts(session, event)
        text = _("Status: {value}").format(value=status_label(event.status)) + "\n" + event_card_text(
            event, host, i18n.current_locale, member.timezone if member else None, counts)
        await message.answer(text, reply_markup=manage_keyboard(event), disable_web_page_preview=True)


def _refusal() -> str:
    return _("Only a representative of this organisation can do this.")


@router.callback_query(EventCB.filter(F.a == "edit"))
async def edit_event(query: CallbackQuery, callback_data: EventCB, state: FSMContext, session: AsyncSession,
                     member: Member | None, i18n: I18n) -> None:
    try:
        event = await ev.check_can_manage(session, member, callback_data.id)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(_refusal(), show_alert=True)
        return
    if event.status == EventStatus.CANCELLED.value:
        await query.answer(_("This event has been cancelled and can no longer be changed."), show_alert=True)
        return
    host = await session.get(Organisation, event.organisation_id)
    draft = ev.draft_from_event(event)
    draft["organisation_name"] = host.name if host else ""
    await state.set_state(EventForm.preview)
    await state.update_data(draft=draft, review=True, editing=event.id)
    await query.answer()
    if event.status == EventStatus.APPROVED.value:
        await query.message.answer(_("Changes to an approved event go back to moderation before members see them."))  # type: ignore[union-attr]
    await _preview(query.message, state, member, i18n.current_locale)  # type: ignore[arg-type]


@router.callback_query(EventCB.filter(F.a == "cancel"))
async def cancel_asked(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None) -> None:
    try:
        event = await ev.check_can_manage(session, member, callback_data.id)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(_refusal(), show_alert=True)
        return
    if event.status == EventStatus.CANCELLED.value:
        await query.answer(_("This event has been cancelled and can no longer be changed."), show_alert=True)
        return
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, cancel it"), callback_data=EventCB(a="cancel_yes", id=event.id))
    builder.button(text=_("No, keep it"), callback_data=EventCB(a="keep", id=event.id))
    await query.answer()
    await query.message.answer(  # type: ignore[union-attr]
        _("Cancel <b>{title}</b>? Everyone who answered will be told.").format(title=escape(event.title)), reply_markup=builder.as_markup())


@router.callback_query(EventCB.filter(F.a == "keep"))
async def cancel_declined(query: CallbackQuery) -> None:
    await _close(query, _("The event stays as it is."))


@router.callback_query(EventCB.filter(F.a == "cancel_yes"))
async def cancel_confirmed(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None,
                           bot: Bot, i18n: I18n) -> None:
    try:
        event, answered = await ev.cancel_event(session, member, callback_data.id, utcnow())
    except ev.WrongStatus:
        await query.answer(_("This event has been cancelled and can no longer be changed."), show_alert=True)
        return
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(_refusal(), show_alert=True)
        return
    await session.commit()
    await _close(query, ngettext("<b>{title}</b> is cancelled. {count} person who answered is being told.",
                          "<b>{title}</b> is cancelled. {count} people who answered are being told.", len(answered)).format(
        title=escape(event.title), count=len(answered)))
    for person in answered:
        await send_rendered(bot, session, i18n, person, lambda locale, zone: (cancelled_text(event, locale, zone), None))


@router.callback_query(EventCB.filter(F.a == "att"))
async def attendees_page(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None,
                         settings: Settings, i18n: I18n) -> None:
    try:
        page = await ev.attendees(session, member, callback_data.id, settings.secretariat_ids, callback_data.o, ATTENDEES_PAGE)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(_refusal(), show_alert=True)
        return
    except ValueError:
        await query.answer(_expired(), show_alert=True)
        return
    event = await ev.get_event(session, callback_data.id)
    text, markup = attendees_view(event, page)  # type: ignore[arg-type]
    await query.answer()
    if callback_data.o == 0 and query.message is not None and not _is_attendee_list(query.message):
        await query.message.answer(text, reply_markup=markup)
    else:
        await edit_text(query.message, text, reply_markup=markup)


def _is_attendee_list(message: Any) -> bool:
    markup = getattr(message, "reply_markup", None)
    return bool(markup) and all(
        (b.callback_data or "").startswith("ev:att:") for row in markup.inline_keyboard for b in row)


def attendees_view(event: Event, page: ev.AttendeePage) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the attendee list: 50 names of at most 48 characters stay well below Telegram's 4096 (counted after parsing)."""
    lines = [_("<b>{title}</b>: {count} answered going or maybe").format(title=escape(event.title), count=page.total)]
    for number, person in enumerate(page.items, start=page.offset + 1):
        mark = "⏳" if person.waitlisted else ("✅" if person.status == RsvpStatus.GOING.value else "🤔")
        guests = f" +{person.guests}" if person.guests else ""
        lines.append(f"{number}. {mark} {escape(person.name[:48])}{guests}")
    if not page.items:
        lines.append(_("Nobody yet."))
    builder = InlineKeyboardBuilder()
    if page.offset > 0:
        builder.button(text="◀", callback_data=EventCB(a="att", id=event.id, o=max(0, page.offset - page.limit)))
    if page.has_next:
        builder.button(text="▶", callback_data=EventCB(a="att", id=event.id, o=page.offset + page.limit))
    markup = builder.as_markup() if (page.offset > 0 or page.has_next) else None
    return "\n".join(lines), markup


# --- members: RSVP, calendar, follow, reminders --------------------------------------------

@router.callback_query(RsvpCB.filter())
async def rsvp_pressed(query: CallbackQuery, callback_data: RsvpCB, session: AsyncSession, member: Member | None,
                       bot: Bot, i18n: I18n) -> None:
    status = RSVP_CODES.get(callback_data.s)
    guests = None if callback_data.n < 0 else callback_data.n
    if status is None:
        await query.answer(_expired(), show_alert=True)
        return
    try:
        result = await ev.set_rsvp(session, member, callback_data.id, status, guests, utcnow())
    except ev.NotAllowed:
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    except ev.EventNotFound:
        await query.answer(_("This event no longer takes answers."), show_alert=True)
        return
    except ev.InvalidEventField as error:
        await query.answer(reason_text(error.reason), show_alert=True)
        return
    await session.commit()
    text, markup = await render_event_card(session, result.event, member, i18n.current_locale)
    await edit_text(query.message, text, reply_markup=markup, disable_web_page_preview=True)
    if result.rsvp.waitlisted:
        await query.answer(_("The event is full: you are on the waitlist. We will tell you when a place frees up."), show_alert=True)
    elif status == RsvpStatus.GOING.value:
        await query.answer(_("See you there! We will remind you a day and an hour before."))
    else:
        await query.answer(_("Your answer is saved."))
    for person in result.promoted:
        await send_rendered(bot, session, i18n, person, lambda locale, zone: (promoted_text(result.event, locale, zone), None))


@router.callback_query(EventCB.filter(F.a == "ics"))
async def calendar_file(query: CallbackQuery, callback_data: EventCB, session: AsyncSession) -> None:
    event = await ev.get_event(session, callback_data.id)
    if event is None or event.status not in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value):
        await query.answer(_("This entry is no longer listed."), show_alert=True)
        return
    host = await session.get(Organisation, event.organisation_id)
    data = cal.event_ics(event, host, utcnow())
    await query.answer()
    await query.message.answer_document(  # type: ignore[union-attr]
        BufferedInputFile(data, filename=f"event-{event.id}.ics"),
        caption=_("Open the file to add <b>{title}</b> to your calendar.").format(title=escape(event.title)))


@router.callback_query(EventCB.filter(F.a.in_({"fo", "fc"})))
async def follow_pressed(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    event = await ev.get_event(session, callback_data.id)
    if member is None or member.registered_at is None:
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    if event is None or event.status not in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value):
        await query.answer(_("This entry is no longer listed."), show_alert=True)
        return
    target = {"organisation_id": event.organisation_id} if callback_data.a == "fo" else {"city_id": ev.event_city_id(event)}
    if None in target.values():
        await query.answer(_expired(), show_alert=True)
        return
    if await ev.is_following(session, member, **target):
        await ev.unfollow(session, member, **target)
        note = _("You no longer follow it.")
    else:
        await ev.follow(session, member, **target)
        note = _("Followed: you will hear of its new events.")
    text, markup = await render_event_card(session, event, member, i18n.current_locale)
    await edit_text(query.message, text, reply_markup=markup, disable_web_page_preview=True)
    await query.answer(note)


@router.callback_query(EventCB.filter(F.a == "remoff"))
async def reminders_off(query: CallbackQuery, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    await ev.set_reminders(session, member, False)
    await query.answer(_("Event reminders are off. Send /reminders to turn them back on."), show_alert=True)


@router.message(Command("reminders"))
async def reminders_command(message: Message, session: AsyncSession, member: Member | None) -> None:
    if member is None or member.registered_at is None:
        await message.answer(_("Please register first: send /start."))
        return
    await ev.set_reminders(session, member, not member.notify_reminders)
    if member.notify_reminders:
        await message.answer(_("Event reminders are on: a day and an hour before the events you answered."))
    else:
        await message.answer(_("Event reminders are off. Send /reminders to turn them back on."))


def feed_address(settings: Settings, token: str) -> str | None:
    """The feed's public address: PUBLIC_URL (or WEBHOOK_URL's origin) and the token."""
    base = settings.public_base()
    return f"{base}/ical/{token}.ics" if base else None


def _feed_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🔄 New address (the old one stops working)"), callback_data=EventCB(a="feednew"))
    builder.button(text=_("🚫 Turn the feed off"), callback_data=EventCB(a="feedoff"))
    builder.adjust(1)
    return builder.as_markup()


def _feed_text(settings: Settings, token: str) -> str:
    address = feed_address(settings, token)
    if address is None:
        return _("Your personal calendar feed is ready, but this server has no public web address yet. "
                 "Use “Add to calendar” on each event meanwhile.")
    return _("Your personal calendar feed:\n<code>{url}</code>\n\nSubscribe to it in your calendar app to see the events you answered. "
             "Keep it secret: anyone with the address sees those events.").format(url=escape(address))


@router.message(Command("calendar"))
async def calendar_command(message: Message, session: AsyncSession, member: Member | None, settings: Settings) -> None:
    if member is None or member.registered_at is None:
        await message.answer(_("Please register first: send /start."))
        return
    token = member.ical_token or await cal.issue_token(session, member)
    await message.answer(_feed_text(settings, token), reply_markup=_feed_keyboard())


@router.callback_query(EventCB.filter(F.a.in_({"feednew", "feedoff"})))
async def feed_changed(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None, settings: Settings) -> None:
    if member is None:
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    if callback_data.a == "feedoff":
        await cal.revoke_token(session, member)
        await _close(query, _("Your calendar feed is off; its address no longer works. Send /calendar for a new one."))
        return
    token = await cal.issue_token(session, member)
    await edit_text(query.message, _feed_text(settings, token), reply_markup=_feed_keyboard())
    await query.answer(_("A new address is ready; the old one no longer works."))
