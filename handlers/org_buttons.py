"""Buttons issue 15 adds to an event's manage menu (one place, so the events module changes by one line)."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from db.models import Event, EventStatus


def manage_extras(builder: InlineKeyboardBuilder, event: Event) -> list[int]:
    """Add "Message attendees" to a representative's menu; returns the keyboard rows added."""
    from handlers.attendee_messages import AttendeeMsgCB

    if event.status not in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value):
        return []
    builder.button(text=_("✉️ Message attendees"), callback_data=AttendeeMsgCB(a="start", id=event.id))
    return [1]
