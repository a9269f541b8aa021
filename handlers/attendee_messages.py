"""A representative writes to an event's attendees: choose Going / Maybe / waitlisted, write the
text in one or several languages, preview it, send it through the delivery engine."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import AttendeeMsgCB
from bot.config import LOCALES, Settings
from bot.filters import CurrentMenu
from bot.guards import guard_representatives
from bot.i18n import LANGUAGE_NAMES, escape
from bot.keyboards import TICK
from bot.notify import nudge_after_commit
from bot.replies import edit_markup, edit_text
from bot.services import attendee_messages as am
from bot.services import events as ev
from bot.services.announcements import AnnouncementError, check_text
from bot.views.announce import error_text as announcement_error
from db.models import Member
from db.types import utcnow

Nudge = Callable[[], Awaitable[None]]  # dp["nudge_worker"] (bot/process.py)


class AttendeeForm(StatesGroup):
    choose = State()
    text = State()
    preview = State()


# A refused member's draft is closed; the service still checks the event itself.
router = guard_representatives(Router(name="attendee_messages"), AttendeeForm)


def status_label(status: str, count: int) -> str:
    label = {am.GOING: _("Going"), am.MAYBE: _("Maybe"), am.WAITLISTED: _("Waitlist")}[status]
    return f"{label} ({count})"


def _refusal() -> str:
    return _("Only a representative of this organisation can do this.")


def error_text(code: str, settings: Settings) -> str:
    return {
        "cap": ngettext("You can write to this event's attendees at most {count} time a day. Please try again tomorrow.",
                        "You can write to this event's attendees at most {count} times a day. Please try again tomorrow.",
                        settings.attendee_messages_per_day).format(count=settings.attendee_messages_per_day),
        "nobody": _("Nobody with these answers can be reached. Choose other answers."),
        "no_status": _("Please choose at least one group of attendees."),
        "not_listed": _("This event is not listed, so it has no attendees to write to."),
    }.get(code, _("This menu has expired. Please start again."))


async def _choose_markup(session: AsyncSession, event_id: int, chosen: list[str]) -> InlineKeyboardMarkup:
    counts = await am.counts(session, event_id)
    builder = InlineKeyboardBuilder()
    for status in am.AUDIENCES:
        mark = TICK if status in chosen else ""
        builder.button(text=mark + status_label(status, counts[status]), callback_data=AttendeeMsgCB(a="t", id=event_id, v=status))
    builder.button(text=_("Next ▶"), callback_data=AttendeeMsgCB(a="next", id=event_id))
    builder.adjust(3, 1)
    return builder.as_markup()


async def _menu(message: Message, state: FSMContext, text: str, markup: InlineKeyboardMarkup | None = None) -> Message:
    sent = await message.answer(text, reply_markup=markup, disable_web_page_preview=True)
    await state.update_data(menu_id=sent.message_id)
    return sent


@router.callback_query(AttendeeMsgCB.filter(F.a == "start"))
async def start(query: CallbackQuery, callback_data: AttendeeMsgCB, state: FSMContext, session: AsyncSession,
                member: Member | None) -> None:
    try:
        event = await ev.check_can_manage(session, member, callback_data.id)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(_refusal(), show_alert=True)
        return
    await state.set_state(AttendeeForm.choose)
    await state.update_data(amsg_event=event.id, amsg_statuses=[am.GOING], amsg_texts={}, amsg_lang=None)
    await query.answer()
    await _menu(query.message, state,  # type: ignore[arg-type]
                _("Who should get your message about <b>{title}</b>? Only people who answered the event can be reached.").format(
                    title=escape(event.title)), await _choose_markup(session, event.id, [am.GOING]))


@router.callback_query(AttendeeForm.choose, AttendeeMsgCB.filter(F.a == "t"), CurrentMenu())
async def toggle(query: CallbackQuery, callback_data: AttendeeMsgCB, state: FSMContext, session: AsyncSession) -> None:
    data = await state.get_data()
    if callback_data.v not in am.AUDIENCES or callback_data.id != data.get("amsg_event"):
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    chosen = list(data.get("amsg_statuses") or [])
    chosen = [s for s in chosen if s != callback_data.v] if callback_data.v in chosen else chosen + [callback_data.v]
    await state.update_data(amsg_statuses=chosen)
    await edit_markup(query.message, reply_markup=await _choose_markup(session, callback_data.id, chosen))
    await query.answer()


async def _ask_text(message: Message, state: FSMContext, locale: str) -> None:
    await state.set_state(AttendeeForm.text)
    await state.update_data(amsg_lang=locale)
    await _menu(message, state, _("Write the message in {language}. Each attendee gets the language they use, "
                                  "if you write it in that language too; otherwise the first one you wrote.").format(
                                      language=LANGUAGE_NAMES[locale]))


@router.callback_query(AttendeeForm.choose, AttendeeMsgCB.filter(F.a == "next"), CurrentMenu())
async def next_step(query: CallbackQuery, state: FSMContext, i18n: I18n, session: AsyncSession, settings: Settings) -> None:
    data = await state.get_data()
    if not data.get("amsg_statuses"):
        await query.answer(error_text("no_status", settings), show_alert=True)
        return
    if not await am.recipients(session, int(data["amsg_event"]), data["amsg_statuses"]):
        await query.answer(error_text("nobody", settings), show_alert=True)
        return
    await query.answer()
    await edit_markup(query.message, reply_markup=None)
    await _ask_text(query.message, state, i18n.current_locale)  # type: ignore[arg-type]


@router.message(AttendeeForm.text, F.text, ~F.text.startswith("/"))
async def text_given(message: Message, state: FSMContext, session: AsyncSession) -> None:
    try:
        text = check_text(message.html_text if message.entities else (message.text or ""))
    except AnnouncementError as error:
        await message.answer(announcement_error(error))
        return
    data = await state.get_data()
    texts = dict(data.get("amsg_texts") or {})
    texts[data.get("amsg_lang") or "en"] = text
    await state.update_data(amsg_texts=texts)
    await _preview(message, state, session)


async def _preview(message: Message, state: FSMContext, session: AsyncSession) -> None:
    data = await state.get_data()
    texts: dict[str, str] = data["amsg_texts"]
    people = await am.recipients(session, int(data["amsg_event"]), data["amsg_statuses"])
    for locale, text in texts.items():
        await message.answer(_("Preview — {language}:").format(language=LANGUAGE_NAMES[locale]))
        await message.answer(text, disable_web_page_preview=True)
    await state.set_state(AttendeeForm.preview)
    builder = InlineKeyboardBuilder()
    if len(texts) < len(LOCALES):
        builder.button(text=_("➕ Add a language"), callback_data=AttendeeMsgCB(a="lang", id=int(data["amsg_event"])))
    builder.button(text=ngettext("📨 Send to {count} person", "📨 Send to {count} people", len(people)).format(count=len(people)),
                   callback_data=AttendeeMsgCB(a="send", id=int(data["amsg_event"])))
    builder.button(text=_("🗑 Discard"), callback_data=AttendeeMsgCB(a="discard", id=int(data["amsg_event"])))
    builder.adjust(1)
    await _menu(message, state, ngettext("It goes to {count} person who answered the event.",
                                         "It goes to {count} people who answered the event.", len(people)).format(count=len(people)),
                builder.as_markup())


@router.callback_query(AttendeeForm.preview, AttendeeMsgCB.filter(F.a == "lang"), CurrentMenu())
async def add_language(query: CallbackQuery, callback_data: AttendeeMsgCB, state: FSMContext) -> None:
    given = set((await state.get_data()).get("amsg_texts") or {})
    builder = InlineKeyboardBuilder()
    for locale in LOCALES:
        if locale not in given:
            builder.button(text=LANGUAGE_NAMES[locale], callback_data=AttendeeMsgCB(a="l", id=callback_data.id, v=locale))
    builder.adjust(2)
    await edit_markup(query.message, reply_markup=builder.as_markup())
    await query.answer()


@router.callback_query(AttendeeForm.preview, AttendeeMsgCB.filter(F.a == "l"), CurrentMenu())
async def language_chosen(query: CallbackQuery, callback_data: AttendeeMsgCB, state: FSMContext) -> None:
    if callback_data.v not in LOCALES:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await query.answer()
    await edit_markup(query.message, reply_markup=None)
    await _ask_text(query.message, state, callback_data.v)  # type: ignore[arg-type]


@router.callback_query(AttendeeForm.preview, AttendeeMsgCB.filter(F.a == "discard"), CurrentMenu())
async def discard(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await edit_text(query.message, _("The message was discarded."), reply_markup=None)
    await query.answer()


@router.callback_query(AttendeeForm.preview, AttendeeMsgCB.filter(F.a == "send"), CurrentMenu())
async def send(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings,
               nudge_worker: Nudge | None = None, after_commit: Callable[[Nudge], None] | None = None) -> None:
    data = await state.get_data()
    progress = (query.message.chat.id, query.message.message_id) if query.message else None
    try:
        sent = await am.send(session, member, int(data["amsg_event"]), list(data.get("amsg_statuses") or []),
                             dict(data.get("amsg_texts") or {}), utcnow(), settings.attendee_messages_per_day, progress)
    except (ev.NotAllowed, ev.EventNotFound):
        await state.clear()
        await query.answer(_refusal(), show_alert=True)
        return
    except am.AttendeeMessageError as error:
        await query.answer(error_text(error.code, settings), show_alert=True)
        return
    await state.clear()
    await edit_text(query.message, ngettext("📨 Sending to {count} person. This message shows the progress.",
                                            "📨 Sending to {count} people. This message shows the progress.", sent.recipients).format(
                                                count=sent.recipients), reply_markup=None)
    await query.answer()
    nudge_after_commit(nudge_worker, after_commit)  # the worker sends them now, not at its next tick
