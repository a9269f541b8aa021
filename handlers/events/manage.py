"""A representative's events: /my_events, then Edit (the form's preview), Cancel (everyone who
answered is told, through the worker) and the attendee list. The guard lets representatives and
the secretariat in; whether this member may manage this event, `check_can_manage` decides."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import EventCB
from bot.config import Settings
from bot.guards import guard_representatives
from bot.notify import nudge_after_commit
from bot.replies import edit_text
from bot.services import events as ev
from bot.states import EventForm
from bot.views.events import (
    attendees_view,
    cancel_question,
    cancelled_done_text,
    cancelled_refusal,
    expired_text,
    is_attendee_list,
    manage_keyboard,
    my_event_text,
    representative_only,
    submit_refusal,
)
from db.models import Event, EventStatus, Member, NoticeKind
from db.types import utcnow
from handlers.events.form import show_preview
from bot.services import notices
from handlers.events.shared import Nudge, close

router = guard_representatives(Router(name="events.manage"), refusal=submit_refusal)

ATTENDEES_PAGE = 50


@router.message(Command("my_events"))
async def my_events_command(message: Message, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if not await ev.represented_organisations(session, member):  # the secretariat, representing none
        await message.answer(submit_refusal())
        return
    events = await ev.events_of_representative(session, member, utcnow())
    if not events:
        await message.answer(_("Your organisations have no upcoming events. Send /submit_event to add one."))
        return
    for event in events:
        host = await ev.get_organisation(session, event.organisation_id)
        counts = await ev.rsvp_counts(session, event)
        await message.answer(my_event_text(event, host, i18n.current_locale, member.timezone if member else None, counts),
                             reply_markup=manage_keyboard(event), disable_web_page_preview=True)


async def _changeable(query: CallbackQuery, session: AsyncSession, member: Member | None, event_id: int) -> Event | None:
    """The event if this member may change it (and it is not cancelled); else the refusal is answered."""
    try:
        event = await ev.check_can_manage(session, member, event_id)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(representative_only(), show_alert=True)
        return None
    if event.status == EventStatus.CANCELLED.value:
        await query.answer(cancelled_refusal(), show_alert=True)
        return None
    return event


@router.callback_query(EventCB.filter(F.a == "edit"))
async def edit_event(query: CallbackQuery, callback_data: EventCB, state: FSMContext, session: AsyncSession,
                     member: Member | None, i18n: I18n) -> None:
    event = await _changeable(query, session, member, callback_data.id)
    if event is None:
        return
    host = await ev.get_organisation(session, event.organisation_id)
    draft = ev.draft_from_event(event)
    draft["organisation_name"] = host.name if host else ""
    await state.set_state(EventForm.preview)
    await state.update_data(draft=draft, review=True, editing=event.id)
    await query.answer()
    if event.status == EventStatus.APPROVED.value:
        await query.message.answer(_("Changes to an approved event go back to moderation before members see them."))  # type: ignore[union-attr]
    await show_preview(query.message, state, member, i18n.current_locale)  # type: ignore[arg-type]


@router.callback_query(EventCB.filter(F.a == "cancel"))
async def cancel_asked(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None) -> None:
    event = await _changeable(query, session, member, callback_data.id)
    if event is None:
        return
    text, markup = cancel_question(event)
    await query.answer()
    await query.message.answer(text, reply_markup=markup)  # type: ignore[union-attr]


@router.callback_query(EventCB.filter(F.a == "keep"))
async def cancel_declined(query: CallbackQuery) -> None:
    await close(query, _("The event stays as it is."))


@router.callback_query(EventCB.filter(F.a == "cancel_yes"))
async def cancel_confirmed(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None,
                           nudge_worker: Nudge | None = None, after_commit: Callable[[Nudge], None] | None = None) -> None:
    now = utcnow()
    try:
        event, answered = await ev.cancel_event(session, member, callback_data.id, now)
    except ev.WrongStatus:
        await query.answer(cancelled_refusal(), show_alert=True)
        return
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(representative_only(), show_alert=True)
        return
    await notices.queue_about(session, NoticeKind.EVENT_CANCELLED, event, answered, now)  # the worker tells them
    nudge_after_commit(nudge_worker, after_commit)
    await close(query, cancelled_done_text(event, len(answered)))


@router.callback_query(EventCB.filter(F.a == "att"))
async def attendees_page(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None,
                         settings: Settings) -> None:
    try:
        page = await ev.attendees(session, member, callback_data.id, settings.secretariat_ids, callback_data.o, ATTENDEES_PAGE)
    except (ev.NotAllowed, ev.EventNotFound):
        await query.answer(representative_only(), show_alert=True)
        return
    except ValueError:
        await query.answer(expired_text(), show_alert=True)
        return
    event = await ev.get_event(session, callback_data.id)
    text, markup = attendees_view(event, page)  # type: ignore[arg-type]
    await query.answer()
    shown = getattr(query.message, "reply_markup", None)
    if callback_data.o == 0 and query.message is not None and not is_attendee_list(shown):
        await query.message.answer(text, reply_markup=markup)
    else:
        await edit_text(query.message, text, reply_markup=markup)
