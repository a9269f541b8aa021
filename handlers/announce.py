"""/announce and /scheduled: the secretariat composes, targets, schedules and follows broadcasts.

One handler per button of the composer (`@composer(rule)`: the conversation is in the composer,
the press is on its newest menu, `rule` picks the action); a press no handler takes (an unknown
action or value) falls through to the fallback's "expired". Texts and keyboards are in
bot/views/announce.py. The whole router is guarded once (bot/guards.RequireSecretariat).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.magic_filter import MagicFilter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import AnnounceCB, ScheduledCB
from bot.config import LOCALES
from bot.filters import CurrentMenu
from bot.guards import guard
from bot.notify import nudge_after_commit
from bot.replies import edit_text
from bot.services import announce_composer as composer_input
from bot.services import announcements as ann
from bot.services.vocab import INTERESTS, SPOKEN_LANGUAGES
from bot.states import Announce
from bot.views import announce as views
from db.models import Member
from db.types import utcnow

router = guard(Router(name="announce"), Announce)  # every handler here re-checks the role, once, in the guard
NOT_COMMAND = ~F.text.startswith("/")
Nudge = Callable[[], Awaitable[None]]


def composer(rule: MagicFilter) -> Callable[[Any], Any]:
    """Register a handler for the composer's buttons whose callback data match `rule`."""
    return router.callback_query(StateFilter(Announce), AnnounceCB.filter(rule), CurrentMenu())


async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("ann") or composer_input.blank())


async def _save(state: FSMContext, draft: dict[str, Any]) -> None:
    await state.update_data(ann=draft)


def _zone(member: Member | None) -> str:
    return (member.timezone if member else None) or "UTC"


async def _menu_view(state: FSMContext, session: AsyncSession, member: Member | None, locale: str) -> views.View:
    draft = await _draft(state)
    size = await ann.audience_size(session, ann.clean_audience(draft["audience"]))
    return views.menu(draft, size, _zone(member), locale)


async def show_menu(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, locale: str) -> None:
    """The composer menu as a new message (after a typed answer or a preview)."""
    text, markup = await _menu_view(state, session, member, locale)
    await state.set_state(Announce.menu)
    sent = await message.answer(text, reply_markup=markup)
    await state.update_data(menu_id=sent.message_id)


async def _refresh(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, locale: str) -> None:
    """The composer menu in place of the pressed message."""
    text, markup = await _menu_view(state, session, member, locale)
    await edit_text(query.message, text, reply_markup=markup)
    await query.answer()


async def _show(query: CallbackQuery, view: views.View) -> None:
    """A sub-menu in place of the pressed message."""
    text, markup = view
    await edit_text(query.message, text, reply_markup=markup)
    await query.answer()


async def _close(query: CallbackQuery, text: str) -> None:
    """The pressed menu becomes `text` (the next question, or the outcome), without buttons."""
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()


# --- entry and the text ---------------------------------------------------------------------

@router.message(Command("announce"))
async def start(message: Message, state: FSMContext, i18n: I18n) -> None:
    await state.clear()
    await state.set_state(Announce.text)
    await state.update_data(ann=composer_input.blank(), ann_locale=i18n.current_locale)
    text, markup = views.text_prompt(i18n.current_locale)
    sent = await message.answer(text, reply_markup=markup)
    await state.update_data(menu_id=sent.message_id)


@router.message(Announce.text, F.text, NOT_COMMAND)
async def text_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    draft = await _draft(state)
    try:
        text = ann.check_text(message.html_text if message.entities else (message.text or ""), with_photo=bool(draft.get("photo")))
    except ann.AnnouncementError as error:
        await message.answer(views.error_text(error))
        return
    locale = (await state.get_data()).get("ann_locale") or i18n.current_locale
    draft["texts"] = {**draft["texts"], locale: text}
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


@composer((F.action == "lang") & F.value.in_(LOCALES))
async def language_chosen(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext) -> None:
    await state.set_state(Announce.text)
    await state.update_data(ann_locale=callback_data.value)
    await _close(query, views.text_asked(callback_data.value))


@composer(F.action == "translations")
async def translations(query: CallbackQuery, state: FSMContext) -> None:
    await _show(query, views.translations(await _draft(state)))


# --- the audience ----------------------------------------------------------------------------

@composer(F.action == "audience")
async def audience(query: CallbackQuery, state: FSMContext) -> None:
    await _show(query, views.audience_menu((await _draft(state))["audience"]))


@composer((F.action == "aud") & F.value.in_(views.TYPED_CRITERIA))
async def ask_criterion(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext) -> None:
    await state.set_state(Announce.audience_input)
    await state.update_data(ann_input=callback_data.value)
    await _close(query, views.audience_prompt(callback_data.value))


@composer((F.action == "aud") & F.value.in_(views.TOGGLED_CRITERIA))
async def show_toggles(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext, i18n: I18n) -> None:
    await _show(query, views.toggles(callback_data.value, (await _draft(state))["audience"], i18n.current_locale))


async def _toggle(query: CallbackQuery, state: FSMContext, key: str, value: str, locale: str) -> None:
    draft = await _draft(state)
    draft["audience"] = composer_input.toggled(draft["audience"], key, value)
    await _save(state, draft)
    await _show(query, views.toggles(key, draft["audience"], locale))


@composer((F.action == "lang_toggle") & F.value.in_(SPOKEN_LANGUAGES))
async def toggle_language(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext, i18n: I18n) -> None:
    await _toggle(query, state, "languages", callback_data.value, i18n.current_locale)


@composer((F.action == "interest_toggle") & F.value.in_(INTERESTS))
async def toggle_interest(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext, i18n: I18n) -> None:
    await _toggle(query, state, "interests", callback_data.value, i18n.current_locale)


@composer((F.action == "aud") & (F.value == "everyone"))
async def everyone(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    draft = await _draft(state)
    draft["audience"] = {}
    await _save(state, draft)
    await _refresh(query, state, session, member, i18n.current_locale)


@router.message(Announce.audience_input, F.text, NOT_COMMAND)
async def audience_typed(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    key = (await state.get_data()).get("ann_input")
    if key not in views.TYPED_CRITERIA:
        await message.answer(views.use_the_buttons())
        return
    try:
        value = composer_input.read_criterion(key, message.text or "", i18n.current_locale)
    except ann.AnnouncementError as error:
        await message.answer(views.error_text(error))
        return
    draft = await _draft(state)
    draft["audience"] = {**draft["audience"], key: value}
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


# --- when ------------------------------------------------------------------------------------

@composer(F.action == "when")
async def when(query: CallbackQuery) -> None:
    await _show(query, views.when_menu())


@composer((F.action == "when_mode") & (F.value == "now"))
async def when_now(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    draft = await _draft(state)
    draft["when"] = {"mode": "now"}
    await _save(state, draft)
    await _refresh(query, state, session, member, i18n.current_locale)


@composer((F.action == "when_mode") & F.value.in_(("at", "daily")))
async def ask_moment(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext, member: Member | None) -> None:
    await state.set_state(Announce.when_input)
    await state.update_data(ann_input=callback_data.value)
    zone = _zone(member)
    await _close(query, views.moment_prompt(zone) if callback_data.value == "at" else views.clock_prompt(zone))


@composer((F.action == "when_mode") & (F.value == "weekly"))
async def when_weekly(query: CallbackQuery, i18n: I18n) -> None:
    await _show(query, views.weekdays(i18n.current_locale))


@composer((F.action == "weekday") & F.value.in_([str(day) for day in views.WEEKDAYS]))
async def weekday_chosen(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext, member: Member | None) -> None:
    await state.set_state(Announce.when_input)
    await state.update_data(ann_input="weekly", ann_weekday=int(callback_data.value))
    await _close(query, views.clock_prompt(_zone(member)))


@router.message(Announce.when_input, F.text, NOT_COMMAND)
async def when_typed(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    data = await state.get_data()
    typed, mode, zone = message.text or "", data.get("ann_input"), _zone(member)
    try:
        if mode == "at":
            when = composer_input.read_moment(typed, zone, utcnow())
        else:
            when = composer_input.read_repeat("weekly" if mode == "weekly" else "daily", typed, zone, data.get("ann_weekday", 0))
    except ann.AnnouncementError as error:
        await message.answer(views.error_text(error))
        if error.code == "recurrence":  # typing again cannot help: the menu, to choose another "when"
            await show_menu(message, state, session, member, i18n.current_locale)
        return
    draft = await _draft(state)
    draft["when"] = when
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


# --- photo, link, urgent ---------------------------------------------------------------------

@composer(F.action == "photo")
async def ask_photo(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(Announce.photo)
    await _close(query, views.photo_prompt())


@router.message(Announce.photo, F.photo)
async def photo_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    draft = await _draft(state)
    try:
        composer_input.check_captions(draft["texts"])
    except ann.AnnouncementError as error:
        await message.answer(views.error_text(error))
        return
    draft["photo"] = message.photo[-1].file_id  # type: ignore[index]
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


@composer(F.action == "link")
async def ask_link(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(Announce.link)
    await _close(query, views.link_prompt())


@router.message(Announce.link, F.text, NOT_COMMAND)
async def link_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    try:
        url, label = composer_input.read_link(message.text or "")  # the same rule as an event's link
    except ann.AnnouncementError as error:
        await message.answer(views.error_text(error))
        return
    draft = await _draft(state)
    draft["link_url"], draft["link_text"] = url, label
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


@composer(F.action == "urgent")
async def urgent(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    draft = await _draft(state)
    draft["urgent"] = not draft.get("urgent")
    await _save(state, draft)
    await _refresh(query, state, session, member, i18n.current_locale)


@composer(F.action == "back")
async def back(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    await _refresh(query, state, session, member, i18n.current_locale)


@router.message(StateFilter(Announce), NOT_COMMAND)
async def unexpected(message: Message) -> None:
    await message.answer(views.use_the_buttons())


# --- preview, confirm, discard ---------------------------------------------------------------

@composer(F.action == "preview")
async def preview(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    """Each language's message exactly as members will get it, then the menu again."""
    await query.answer()
    message: Message = query.message  # type: ignore[assignment]
    draft = await _draft(state)
    markup = views.link_markup(draft)
    if not draft["texts"]:
        await message.answer(views.needs_text())
    for code, text in draft["texts"].items():
        await message.answer(views.preview_header(code))
        if draft.get("photo"):
            await message.answer_photo(draft["photo"], caption=text, reply_markup=markup)
        else:
            await message.answer(text, reply_markup=markup)
    await show_menu(message, state, session, member, i18n.current_locale)


@composer(F.action == "confirm")
async def confirm(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n,
                  nudge_worker: Nudge | None = None, after_commit: Callable[[Nudge], None] | None = None) -> None:
    """Schedule the draft (an edit replaces the scheduled one), say for how many, and show the progress message.
    Each reply commits what came before it (bot/transaction.py); the worker is nudged after the last commit."""
    locale, message = i18n.current_locale, query.message
    draft = await _draft(state)
    replaces = (await state.get_data()).get("ann_replaces")
    try:
        confirmed = await ann.confirm(session, composer_input.to_draft(draft, _zone(member)), member.id if member else None,
                                      replaces=replaces)
    except ann.AnnouncementError as error:
        await query.answer()
        await message.answer(views.error_text(error))  # type: ignore[union-attr]
        return
    await state.clear()
    await edit_text(message, views.confirmed(confirmed.announcement.id, confirmed.audience_size, locale), reply_markup=None)
    progress = await message.answer(views.waiting(draft["when"], _zone(member), locale))  # type: ignore[union-attr]
    ann.track_progress(confirmed.announcement, progress.chat.id, progress.message_id)
    await query.answer()
    nudge_after_commit(nudge_worker, after_commit)  # a process that runs the worker too starts at once, not at the next tick


@composer(F.action == "discard")
async def discard(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await _close(query, views.discarded())


# --- /scheduled ------------------------------------------------------------------------------

@router.message(Command("scheduled"))
async def scheduled(message: Message, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    text, markup = views.scheduled(await ann.scheduled_list(session), _zone(member), i18n.current_locale)
    await message.answer(text, reply_markup=markup)


@router.callback_query(ScheduledCB.filter(F.action == "cancel"))
async def cancel_scheduled(query: CallbackQuery, callback_data: ScheduledCB, session: AsyncSession, member: Member | None) -> None:
    announcement = await ann.changeable(session, callback_data.id)
    if announcement is None:
        await query.answer(views.cannot_change(), show_alert=True)
        return
    await ann.cancel(session, announcement, member.id if member else None)
    await query.answer(views.cancelled(announcement.id), show_alert=True)


@router.callback_query(ScheduledCB.filter(F.action == "edit"))
async def edit_scheduled(query: CallbackQuery, callback_data: ScheduledCB, state: FSMContext, session: AsyncSession,
                         member: Member | None, i18n: I18n) -> None:
    """The composer on a copy of a scheduled announcement; confirming it cancels the original."""
    announcement = await ann.changeable(session, callback_data.id)
    if announcement is None:
        await query.answer(views.cannot_change(), show_alert=True)
        return
    await state.clear()
    await state.update_data(ann=composer_input.from_announcement(announcement, utcnow()), ann_replaces=announcement.id,
                            ann_locale=i18n.current_locale)
    await query.answer()
    await show_menu(query.message, state, session, member, i18n.current_locale)  # type: ignore[arg-type]
