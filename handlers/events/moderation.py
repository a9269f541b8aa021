"""The secretariat decides: /pending lists the queue, Approve lists an event (its news goes out from
the worker), Reject asks for the reason the representative reads. Every handler here is behind
the secretariat's guard; the services check the role once more and the event's status."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import ModCB
from bot.config import Settings
from bot.guards import guard
from bot.i18n import escape
from bot.notify import nudge_after_commit, send_rendered
from bot.replies import edit_markup
from bot.services import events as ev
from bot.services import moderation
from bot.states import RejectForm
from bot.views.events import (
    approved_text,
    decision_refusal,
    manage_keyboard,
    moderation_keyboard,
    moderation_text,
    reason_text,
    rejected_text,
)
from db.models import Event, EventStatus, Member
from db.types import utcnow
from handlers.events.shared import NOT_COMMAND, Nudge, menu

router = guard(Router(name="events.moderation"), RejectForm)

PENDING_SHOWN = 10


async def _tell_submitter(bot: Bot, session: AsyncSession, i18n: I18n, event: Event, approved: bool) -> None:
    """The decision, to the representative who sent the event, in their language."""
    submitter = await session.get(Member, event.submitted_by) if event.submitted_by else None
    if submitter is None or not submitter.is_active:
        return
    if approved:
        await send_rendered(bot, session, i18n, submitter, lambda locale, zone: (approved_text(event), None))
    else:
        await send_rendered(bot, session, i18n, submitter, lambda locale, zone: (rejected_text(event), manage_keyboard(event)))


@router.message(Command("pending"))
async def pending_command(message: Message, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    events, total = await moderation.pending_events(session, limit=PENDING_SHOWN)
    if not total:
        await message.answer(_("No events are waiting for moderation."))
        return
    await message.answer(ngettext("{count} event is waiting for moderation:", "{count} events are waiting for moderation; the oldest first:", total).format(count=total))
    for event in events:
        host = await ev.get_organisation(session, event.organisation_id)
        submitter = await session.get(Member, event.submitted_by) if event.submitted_by else None
        await message.answer(moderation_text(event, host, submitter, i18n.current_locale, member.timezone if member else None),
                             reply_markup=moderation_keyboard(event), disable_web_page_preview=True)


@router.callback_query(ModCB.filter(F.a == "ok"))
async def approve(query: CallbackQuery, callback_data: ModCB, session: AsyncSession, member: Member | None, bot: Bot,
                  settings: Settings, i18n: I18n, nudge_worker: Nudge | None = None,
                  after_commit: Callable[[Nudge], None] | None = None) -> None:
    try:
        event = await moderation.approve_event(session, member, callback_data.id, settings.secretariat_ids, utcnow())
    except (ev.NotAllowed, ev.WrongStatus, ev.EventNotFound) as error:
        await query.answer(decision_refusal(error), show_alert=True)
        return
    nudge_after_commit(nudge_worker, after_commit)  # the news goes out from the worker (jobs/event_news.py)
    await edit_markup(query.message, reply_markup=None)  # commits the decision first (bot/transaction.py)
    await query.answer(_("Approved."))
    await query.message.answer(_("✅ Approved: <b>{title}</b>. The representative has been told.").format(  # type: ignore[union-attr]
        title=escape(event.title)))
    await _tell_submitter(bot, session, i18n, event, approved=True)


@router.callback_query(ModCB.filter(F.a == "no"))
async def reject_asked(query: CallbackQuery, callback_data: ModCB, state: FSMContext, session: AsyncSession) -> None:
    event = await ev.get_event(session, callback_data.id)
    if event is None or event.status != EventStatus.PENDING.value:
        await query.answer(decision_refusal(ev.WrongStatus(event.status) if event else ev.EventNotFound()), show_alert=True)
        return
    await query.answer()
    await state.set_state(RejectForm.reason)
    await state.update_data(reject_id=event.id, moderation_message=query.message.message_id if query.message else None)
    await menu(query.message, state, _("Why is <b>{title}</b> rejected? Send the reason; the representative will read it.").format(  # type: ignore[arg-type]
        title=escape(event.title)))


@router.message(RejectForm.reason, F.text, NOT_COMMAND)
async def reject_reason_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, bot: Bot,
                              settings: Settings, i18n: I18n) -> None:
    data = await state.get_data()
    try:
        event = await moderation.reject_event(session, member, int(data.get("reject_id") or 0), message.text or "",
                                      settings.secretariat_ids, utcnow())
    except ev.InvalidEventField as error:
        await message.answer(reason_text(error.reason))
        return
    except (ev.NotAllowed, ev.WrongStatus, ev.EventNotFound) as error:
        await state.clear()
        await message.answer(decision_refusal(error))
        return
    await state.clear()
    if data.get("moderation_message"):
        try:  # the first Bot API call commits the decision (bot/transaction.py)
            await bot.edit_message_reply_markup(chat_id=message.chat.id, message_id=data["moderation_message"], reply_markup=None)
        except TelegramBadRequest:
            pass
    await message.answer(_("❌ Rejected: <b>{title}</b>. The representative has been told the reason.").format(title=escape(event.title)))
    await _tell_submitter(bot, session, i18n, event, approved=False)
