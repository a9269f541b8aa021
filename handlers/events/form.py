"""/submit_event: a representative's form, step by step, to a preview exactly as members will see
it, then to the secretariat (or listed at once for a trusted organisation). Editing an event
(handlers/events/manage.py) opens the same preview."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import FormCB
from bot.config import Settings
from bot.filters import CurrentMenu
from bot.geo import get_gazetteer
from bot.guards import guard_representatives
from bot.i18n import escape, format_when
from bot.keyboards import city_label
from bot.labels import interest_label, language_list
from bot.notify import nudge_after_commit, send_to_secretariat
from bot.numbers import ROW_ID, NumberError, parse_int
from bot.replies import edit_markup
from bot.services import events as ev
from bot.states import EventForm
from bot.views.event_form import (
    SKIPPABLE,
    STEPS,
    city_question,
    languages_keyboard,
    organisation_question,
    preview_keyboard,
    start_question,
    step_question,
    venue_line,
)
from bot.views.events import (
    approved_text,
    event_card_text,
    expired_text,
    manage_keyboard,
    reason_text,
    representative_only,
    submit_refusal,
)
from db.models import EventStatus, Member, NoticeKind, Organisation
from db.types import utcnow
from bot.services import notices
from handlers.events.shared import NOT_COMMAND, Nudge, close, menu

# Only representatives (or the secretariat) get past the guard; which organisation a member may
# submit for, or which event they may edit, the services decide.
router = guard_representatives(Router(name="events.form"), EventForm, refusal=submit_refusal)

QUICK_DAYS = 7


# --- helpers -------------------------------------------------------------------------------

async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("draft") or {})


async def _save(state: FSMContext, **values: Any) -> None:
    draft = await _draft(state)
    draft.update(values)
    await state.update_data(draft=draft)


async def _next(message: Message, state: FSMContext, done: str, member: Member | None, locale: str) -> None:
    """After a step: back to the preview when reviewing, else the following step."""
    if (await state.get_data()).get("review"):
        await show_preview(message, state, member, locale)
        return
    following = STEPS[STEPS.index(done) + 1] if done in STEPS[:-1] else None
    await _ask(message, state, following, member, locale)


async def _ask(message: Message, state: FSMContext, step: str | None, member: Member | None, locale: str) -> None:
    if step is None:
        await show_preview(message, state, member, locale)
    elif step == "start":
        await _ask_start(message, state, locale)
    else:
        await state.set_state(getattr(EventForm, step))
        text, markup = step_question(step, await _draft(state), locale)
        await menu(message, state, text, markup)


async def _ask_start(message: Message, state: FSMContext, locale: str) -> None:
    zone = ((await _draft(state)).get("venue") or {}).get("timezone") or "UTC"
    await state.set_state(EventForm.start)
    today = utcnow().astimezone(ev.zone_of(zone)).date()
    days = [today + timedelta(days=offset) for offset in range(QUICK_DAYS)]
    await state.update_data(days=[day.isoformat() for day in days], start_date=None)
    await menu(message, state, *start_question(days, zone, locale))


async def show_preview(message: Message, state: FSMContext, member: Member | None, locale: str) -> None:
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
    await menu(message, state, event_card_text(event, host, locale, member.timezone if member else None), preview_keyboard())


def _first_missing(draft: dict[str, Any]) -> str:
    for step, key in (("title", "title"), ("description", "description"), ("venue", "venue"), ("start", "start_local"),
                      ("category", "category")):
        if not draft.get(key):
            return step
    return "title"


# --- the steps -----------------------------------------------------------------------------

@router.message(Command("submit_event"))
async def submit_event_command(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    organisations = await ev.represented_organisations(session, member)
    if not organisations:  # the secretariat passes the guard, but submits only for an organisation it represents
        await message.answer(submit_refusal())
        return
    await state.set_state(EventForm.organisation)
    await state.update_data(draft={}, review=False, editing=None, org_ids=[o.id for o in organisations])
    if len(organisations) == 1:
        await _organisation_chosen(message, state, organisations[0], member, i18n.current_locale)
        return
    await menu(message, state, *organisation_question(organisations))


@router.callback_query(EventForm.organisation, FormCB.filter(F.a == "org"), CurrentMenu())
async def organisation_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext, session: AsyncSession,
                              member: Member | None, i18n: I18n) -> None:
    organisations = {o.id: o for o in await ev.represented_organisations(session, member)}
    organisation_id = parse_int(callback_data.v, ROW_ID)
    organisation = organisations.get(organisation_id) if not isinstance(organisation_id, NumberError) else None
    if organisation is None or organisation.id not in (await state.get_data()).get("org_ids", []):
        await query.answer(representative_only(), show_alert=True)
        return
    await close(query, "🏛 " + escape(organisation.name))
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
    await menu(message, state, *city_question(cities, i18n.current_locale))


@router.callback_query(EventForm.venue, FormCB.filter(F.a == "city"), CurrentMenu())
async def venue_city_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    data = await state.get_data()
    city_id = parse_int(callback_data.v, ROW_ID)
    offered = not isinstance(city_id, NumberError) and city_id in data.get("city_ids", [])
    city = get_gazetteer().get(city_id) if offered else None
    if city is None:
        await query.answer(expired_text(), show_alert=True)
        return
    await close(query, "📍 " + escape(city_label(city, i18n.current_locale)))
    await _venue_chosen(query.message, state, ev.venue_from_city(city, data.get("address")), member, i18n.current_locale)  # type: ignore[arg-type]


async def _venue_chosen(message: Message, state: FSMContext, venue: ev.Venue, member: Member | None, locale: str) -> None:
    await message.answer(venue_line(venue), reply_markup=ReplyKeyboardRemove())
    await _save(state, venue=venue.as_dict())
    await _next(message, state, "venue", member, locale)


@router.callback_query(EventForm.start, FormCB.filter(F.a == "day"), CurrentMenu())
async def start_day_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext) -> None:
    if callback_data.v not in (await state.get_data()).get("days", []):
        await query.answer(expired_text(), show_alert=True)
        return
    await state.update_data(start_date=callback_data.v)
    await query.answer()
    await edit_markup(query.message, reply_markup=None)
    await menu(query.message, state, _("Now type the start time, for example 18:30."))  # type: ignore[arg-type]


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
        await query.answer(expired_text(), show_alert=True)
        return
    chosen = list((await _draft(state)).get("languages") or [])
    chosen = [c for c in chosen if c != callback_data.v] if callback_data.v in chosen else chosen + [callback_data.v]
    await _save(state, languages=chosen)
    await edit_markup(query.message, reply_markup=languages_keyboard(chosen, i18n.current_locale))
    await query.answer()


@router.callback_query(EventForm.languages, FormCB.filter(F.a == "done"), CurrentMenu())
async def languages_done(query: CallbackQuery, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    chosen = (await _draft(state)).get("languages") or []
    if not chosen:
        await query.answer(_("Please choose at least one language."), show_alert=True)
        return
    locale = i18n.current_locale
    await close(query, _("Languages: {value}").format(value=escape(language_list(chosen, locale))))
    await _next(query.message, state, "languages", member, locale)  # type: ignore[arg-type]


@router.callback_query(EventForm.category, FormCB.filter(F.a == "cat"), CurrentMenu())
async def category_chosen(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    if callback_data.v not in ev.EVENT_CATEGORIES:
        await query.answer(expired_text(), show_alert=True)
        return
    await _save(state, category=callback_data.v)
    await close(query, _("Category: {value}").format(value=interest_label(callback_data.v)))
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
    if callback_data.v not in SKIPPABLE or current != getattr(EventForm, callback_data.v).state:
        await query.answer(expired_text(), show_alert=True)
        return
    await _save(state, **{{"end": "end_local"}.get(callback_data.v, callback_data.v): None})
    await close(query, _("Skipped."))
    await _next(query.message, state, callback_data.v, member, i18n.current_locale)  # type: ignore[arg-type]


@router.callback_query(EventForm.preview, FormCB.filter(F.a == "field"), CurrentMenu())
async def change_field(query: CallbackQuery, callback_data: FormCB, state: FSMContext, member: Member | None, i18n: I18n) -> None:
    if callback_data.v not in STEPS:
        await query.answer(expired_text(), show_alert=True)
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
                 i18n: I18n, settings: Settings, nudge_worker: Nudge | None = None,
                 after_commit: Callable[[Nudge], None] | None = None) -> None:
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
        await query.answer(representative_only(), show_alert=True)
        return
    promoted = await ev.promote_waitlist(session, event) if editing else []
    await notices.queue_about(session, NoticeKind.WAITLIST_PROMOTED, event, promoted, now)
    await state.clear()
    nudge_after_commit(nudge_worker, after_commit)  # promotions, and the news of an approved event
    # The first reply commits the event (bot/transaction.py), before the secretariat can see it.
    await edit_markup(query.message, reply_markup=None)
    await query.answer()
    if event.status == EventStatus.APPROVED.value:
        await query.message.answer(approved_text(event), reply_markup=manage_keyboard(event))  # type: ignore[union-attr]
    else:
        await query.message.answer(  # type: ignore[union-attr]
            _("📨 Sent to the secretariat for moderation. You will hear the decision here."), reply_markup=manage_keyboard(event))
        await send_to_secretariat(bot, session, i18n, settings.secretariat_ids, event, member)
