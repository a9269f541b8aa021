"""What members do with an event card: Going / Maybe / Not going (with guests, a waitlist past
capacity), Add to calendar, follow the organiser or the city, and turning reminders off (the
button under a reminder, or /reminders)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message, Update
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.callbacks import RSVP_CODES, EventCB, RsvpCB
from bot.i18n import escape
from bot.notify import nudge_after_commit
from bot.replies import edit_text
from bot.services import calendar as cal
from bot.services import events as ev
from bot.views.events import event_card_view, expired_text, reason_text
from db.models import Event, EventStatus, Member, NoticeKind, Rsvp, RsvpStatus
from db.types import utcnow
from bot.services import notices
from handlers.events.shared import Nudge

router = Router(name="events.rsvp")


async def render_event_card(session: AsyncSession, event: Event, member: Member | None, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """Text and buttons of an event card for this member."""
    card = await ev.event_card(session, event, member)
    return event_card_view(card, locale, member.timezone if member else None)


def _listed(event: Event | None) -> bool:
    return event is not None and event.status in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value)


@router.callback_query(RsvpCB.filter())
async def rsvp_pressed(query: CallbackQuery, callback_data: RsvpCB, session: AsyncSession, member: Member | None,
                       i18n: I18n, event_update: Update | None = None,
                       session_factory: async_sessionmaker[AsyncSession] | None = None,
                       nudge_worker: Nudge | None = None, after_commit: Callable[[Nudge], None] | None = None) -> None:
    status = RSVP_CODES.get(callback_data.s)
    guests = None if callback_data.n < 0 else callback_data.n
    if status is None:
        await query.answer(expired_text(), show_alert=True)
        return
    now = utcnow()
    # The tap's place in line is its update's id: Telegram numbers updates in the order it got them.
    in_turn = event_update is not None and session_factory is not None and after_commit is not None
    try:
        result = await ev.set_rsvp(session, member, callback_data.id, status, guests, now,
                                   position=event_update.update_id if in_turn else None)  # type: ignore[union-attr]
    except ev.NotAllowed:
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    except ev.EventNotFound:
        await query.answer(_("This event no longer takes answers."), show_alert=True)
        return
    except ev.InvalidEventField as error:
        await query.answer(reason_text(error.reason), show_alert=True)
        return
    if result.promoted:  # a place freed up: the worker tells whoever moved up
        await notices.queue_about(session, NoticeKind.WAITLIST_PROMOTED, result.event, result.promoted, now)
        nudge_after_commit(nudge_worker, after_commit)
    if result.pending:  # earlier taps may still be on their way: answered once its turn has come
        assert member is not None and after_commit is not None and session_factory is not None
        after_commit(partial(answer_in_turn, query, session_factory, i18n, i18n.current_locale, member.id,
                             result.event.id, now, nudge_worker))
        return
    text, markup = await render_event_card(session, result.event, member, i18n.current_locale)
    await edit_text(query.message, text, reply_markup=markup, disable_web_page_preview=True)
    await query.answer(*_answer(result.rsvp, status))


def _answer(rsvp: Rsvp | None, status: str) -> tuple[str, bool]:
    """What a tap is told (and whether as an alert)."""
    if rsvp is not None and rsvp.status == RsvpStatus.GOING.value and rsvp.waitlisted:
        return _("The event is full: you are on the waitlist. We will tell you when a place frees up."), True
    if status == RsvpStatus.GOING.value and rsvp is not None and rsvp.status == RsvpStatus.GOING.value:
        return _("See you there! We will remind you a day and an hour before."), False
    return _("Your answer is saved."), False


async def answer_in_turn(query: CallbackQuery, session_factory: async_sessionmaker[AsyncSession], i18n: I18n,
                         locale: str, member_id: int, event_id: int, tapped_at: datetime, nudge: Nudge | None) -> None:
    """After the update's commit: wait until the tap's turn has come (ev.admit: earlier taps had
    ev.SETTLE to be counted first), then edit the card and answer the tap. No transaction is open
    while it waits or talks to Telegram."""
    give_up, retry_at = tapped_at + ev.ANSWER_WITHIN, tapped_at + ev.SETTLE
    while True:
        await asyncio.sleep(max(0.0, (retry_at - utcnow()).total_seconds()))
        now = utcnow()
        with i18n.context(), i18n.use_locale(locale):
            async with session_factory() as session:
                admission = await ev.admit(session, member_id, event_id, now, last=now >= give_up)
                if admission is not None and admission.promoted:
                    await notices.queue_about(session, NoticeKind.WAITLIST_PROMOTED, admission.event, admission.promoted, now)
                if admission is None:
                    text, note = None, (_("This event no longer takes answers."), True)
                elif admission.decided:
                    member = await session.get(Member, member_id)
                    text = await render_event_card(session, admission.event, member, locale)
                    note = _answer(admission.rsvp, RsvpStatus.GOING.value)
                await session.commit()
        if admission is not None and admission.promoted and nudge is not None:
            await nudge()
        if admission is None or admission.decided:
            break
        retry_at = min(max(admission.retry_at or now, now + timedelta(milliseconds=20)), give_up)
    if text is not None:
        await edit_text(query.message, text[0], reply_markup=text[1], disable_web_page_preview=True)
    await query.answer(note[0], show_alert=note[1])


@router.callback_query(EventCB.filter(F.a == "ics"))
async def calendar_file(query: CallbackQuery, callback_data: EventCB, session: AsyncSession) -> None:
    event = await ev.get_event(session, callback_data.id)
    if not _listed(event):
        await query.answer(_("This entry is no longer listed."), show_alert=True)
        return
    assert event is not None
    host = await ev.get_organisation(session, event.organisation_id)
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
    if not _listed(event):
        await query.answer(_("This entry is no longer listed."), show_alert=True)
        return
    assert event is not None
    target = {"organisation_id": event.organisation_id} if callback_data.a == "fo" else {"city_id": ev.event_city_id(event)}
    if None in target.values():
        await query.answer(expired_text(), show_alert=True)
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
