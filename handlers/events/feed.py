"""/calendar: a member's personal calendar feed of the events they answered (served by the web
process at /ical/<token>.ics), which they can renew or turn off."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import EventCB
from bot.config import Settings
from bot.replies import edit_text
from bot.services import calendar as cal
from bot.views.events import feed_keyboard, feed_text
from db.models import Member
from handlers.events.shared import close

router = Router(name="events.feed")


def feed_address(settings: Settings, token: str) -> str | None:
    """The feed's public address: PUBLIC_URL (or WEBHOOK_URL's origin) and the token."""
    base = settings.public_base()
    return f"{base}/ical/{token}.ics" if base else None


@router.message(Command("calendar"))
async def calendar_command(message: Message, session: AsyncSession, member: Member | None, settings: Settings) -> None:
    if member is None or member.registered_at is None:
        await message.answer(_("Please register first: send /start."))
        return
    token = member.ical_token or await cal.issue_token(session, member)
    await message.answer(feed_text(feed_address(settings, token)), reply_markup=feed_keyboard())


@router.callback_query(EventCB.filter(F.a.in_({"feednew", "feedoff"})))
async def feed_changed(query: CallbackQuery, callback_data: EventCB, session: AsyncSession, member: Member | None, settings: Settings) -> None:
    if member is None:
        await query.answer(_("Please register first: send /start."), show_alert=True)
        return
    if callback_data.a == "feedoff":
        await cal.revoke_token(session, member)
        await close(query, _("Your calendar feed is off; its address no longer works. Send /calendar for a new one."))
        return
    token = await cal.issue_token(session, member)
    await edit_text(query.message, feed_text(feed_address(settings, token)), reply_markup=feed_keyboard())
    await query.answer(_("A new address is ready; the old one no longer works."))
