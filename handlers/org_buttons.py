"""Buttons issue 15 adds to an event's manage menu (one place, so the events module changes by one line)."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from db.models import Event, EventStatus


def manage_extras(builder: InlineKeyboardBuilder, event: Event) -> list[int]:
    """Add "Message attendees" and "Repeat" to a representative's menu; returns the keyboard rows added."""
    from handlers.attendee_messages import AttendeeMsgCB
    from handlers.series import SeriesCB

    rows = []
    if event.status in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value):
        builder.button(text=_("✉️ Message attendees"), callback_data=AttendeeMsgCB(a="start", id=event.id))
        rows.append(1)
    if event.status != EventStatus.CANCELLED.value:
        builder.button(text=_("🔁 Repeat"), callback_data=SeriesCB(a="start", id=event.id))
        rows.append(1)
    return rows
