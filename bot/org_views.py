"""Texts and buttons for organisations' channels, attendee messages and event series,
rendered the same by handlers and jobs (inside `i18n.use_locale(...)`)."""

from __future__ import annotations

import hashlib

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.deeplinks import share_link
from bot.i18n import escape
from db.models import ChatLink, Event, EventStatus, Organisation


def channel_card(event: Event, host: Organisation, locale: str, bot_username: str | None) -> tuple[str, InlineKeyboardMarkup | None]:
    """An event card for a channel or group: the venue's time zone, and an "RSVP in the bot" button."""
    from bot.views.events import event_card_text

    text = event_card_text(event, host, locale, event.timezone)
    url = share_link("e", event.id, bot_username)  # opens the event's card in the private chat
    if event.status == EventStatus.CANCELLED.value or url is None:
        return text, None
    button = InlineKeyboardButton(text=_("✅ RSVP in the bot"), url=url)
    return text, InlineKeyboardMarkup(inline_keyboard=[[button]])


def content_hash(text: str, markup: InlineKeyboardMarkup | None) -> str:
    """What a post shows, so a card is edited only when it changed."""
    payload = text + "\x00" + (markup.model_dump_json(exclude_none=True) if markup else "")
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def chat_name(link: ChatLink) -> str:
    return escape(link.title or str(link.chat_id))


def link_question(link: ChatLink, organisations: list[Organisation]) -> str:
    return _("You made me an administrator of <b>{chat}</b>. Should I post your organisation's approved events there? "
             "Choose the organisation, or decline.").format(chat=chat_name(link))


def link_refused_text(link: ChatLink) -> str:
    return _("You made me an administrator of <b>{chat}</b>, but only a representative of an organisation can link a chat "
             "to it. If you represent one, ask the secretariat to grant you the role, then add me again.").format(chat=chat_name(link))


def linked_text(link: ChatLink, organisation: Organisation) -> str:
    text = _("✅ Linked: approved events of <b>{organisation}</b> will be posted in <b>{chat}</b>.").format(
        organisation=escape(organisation.name), chat=chat_name(link))
    if link.is_forum:
        text += "\n" + _("This group has topics: send /post_here in the topic where the events should go.")
    return text


def paused_text(link: ChatLink) -> str:
    return _("⏸ I can no longer post in <b>{chat}</b> (I am not an administrator there any more), so its link is paused. "
             "Make me an administrator again to resume it.").format(chat=chat_name(link))


def removed_for_role_text(link: ChatLink) -> str:
    return _("The link of <b>{chat}</b> was removed because its representative no longer holds the role.").format(chat=chat_name(link))
