"""Notices jobs send outside a reply: the freshness request to representatives, what the
secretariat is told when an entry is hidden, the weekly digest. Pure texts and keyboards built
with `_()`, rendered in the recipient's language (bot/notify.render_for)."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import ConfirmOrgCB
from bot.i18n import escape, format_when
from db.models import Event, Organisation


def ask_text(org: Organisation) -> str:
    """The request a representative receives."""
    return _(
        "Every three months we ask representatives to check their organisation's entry in the directory.\n\n"
        "Is the entry for <b>{name}</b> still correct?\n\n"
        "If nobody answers three requests, the entry is hidden from the directory."
    ).format(name=escape(org.name))


def confirmation_keyboard(org_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Still correct"), callback_data=ConfirmOrgCB(org_id=org_id, still_ok=True))
    builder.button(text=_("✏️ Needs changes"), callback_data=ConfirmOrgCB(org_id=org_id, still_ok=False))
    builder.adjust(1)
    return builder.as_markup()


def hidden_notice(org: Organisation, had_representatives: bool) -> str:
    """What the secretariat is told when an organisation is hidden."""
    if had_representatives:
        text = _("<b>{name}</b> was hidden from the directory: its representatives did not answer three requests to confirm the entry.")
    else:
        text = _("<b>{name}</b> was hidden from the directory after three requests to confirm the entry: it has no representative who could answer.")
    return text.format(name=escape(org.name))


def digest_text(events: list[Event], hosts: dict[int, str], locale: str, zone: str | None) -> str:
    """The weekly digest: the coming week's events, each with its time in the reader's zone."""
    lines = [_("<b>This week near you</b>")]
    for event in events:
        when = format_when(event.starts_at, locale, zone or event.timezone, "medium")
        host = hosts.get(event.organisation_id, "")
        lines.append(f"📅 {when} — <b>{escape(event.title)}</b>" + (f" · {escape(host)}" if host else ""))
    lines.append(_("Open /nearby for details. The digest can be turned off in /settings."))
    return "\n".join(lines)
