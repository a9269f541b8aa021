"""What members do with an event card: Going / Maybe / Not going (with guests, a waitlist past
capacity), Add to calendar, follow the organiser or the city, and turning reminders off (the
button under a reminder, or /reminders)."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import RSVP_CODES, EventCB, RsvpCB
from bot.i18n import escape
from bot.notify import nudge_after_commit
from bot.replies import edit_text
from bot.services import calendar as cal
from bot.services import events as ev
from bot.views.events import event_card_view, expired_text, reason_text
from db.models import Event, EventStatus, Member, NoticeKind, RsvpStatus
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
                       i18n: I18n, nudge_worker: Nudge | None = None, after_commit: Callable[[Nudge], None] | None = None) -> None:
    status = RSVP_CODES.get(callback_data.s)
    guests = None if callback_data.n < 0 else callback_data.n
    if status is None:
        await query.answer(expired_text(), show_alert=True)
        return
    now = utcnow()
    try:
        result = await ev.set_rsvp(session, member, callback_data.id, status, guests, now)
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
    text, markup = await render_event_card(session, result.event, member, i18n.current_locale)
    await edit_text(query.message, text, reply_markup=markup, disable_web_page_preview=True)
    if result.rsvp.waitlisted:
        await query.answer(_("The event is full: you are on the waitlist. We will tell you when a place frees up."), show_alert=True)
    elif status == RsvpStatus.GOING.value:
        await query.answer(_("See you there! We will remind you a day and an hour before."))
    else:
        await query.answer(_("Your answer is saved."))


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
