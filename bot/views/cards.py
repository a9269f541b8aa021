"""Cards of directory entries: an organisation, an event (texts only; every user field escaped)."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.deeplinks import share_link
from bot.i18n import escape, format_when
from bot.labels import category_label, country_label, language_list
from db.models import Event, Organisation


def organisation_card(organisation: Organisation, locale: str) -> str:
    """Everything public about an organisation; every user-supplied field escaped."""
    name = (organisation.name_translations or {}).get(locale) or organisation.name
    lines = [f"🏛 <b>{escape(name)}</b>" + (" ✔️" if organisation.verified else "")]
    if name != organisation.name:
        lines.append(f"<i>{escape(organisation.name)}</i>")
    lines.append(category_label(organisation.category))
    if organisation.description:
        lines.append("\n" + escape(organisation.description))
    place = ", ".join(p for p in (organisation.address, organisation.city) if p)
    lines.append("\n" + _("Address: {value}").format(value=escape(place or "—") + ", " + escape(country_label(organisation.country_code, locale))))
    if organisation.languages:
        lines.append(_("Languages: {value}").format(value=escape(language_list(organisation.languages, locale))))
    for label, value in ((_("Phone: {value}"), organisation.phone), (_("Email: {value}"), organisation.email),
                         (_("Website: {value}"), organisation.website), (_("Telegram: {value}"), organisation.telegram)):
        if value:
            lines.append(label.format(value=escape(value)))
    return "\n".join(lines + share_line("o", organisation.id))


def event_card(event: Event, host: Organisation | None, locale: str, zone: str | None) -> str:
    """An event's public card, its time in the member's time zone (else the venue's)."""
    lines = [f"📅 <b>{escape(event.title)}</b>"]
    if host is not None:
        lines.append(_("Organised by {name}").format(name=escape(host.name) + (" ✔️" if host.verified else "")))
    when = format_when(event.starts_at, locale, zone or event.timezone, "full")
    lines.append(_("When: {value}").format(value=when))
    place = ", ".join(p for p in (event.venue, event.city) if p)
    if place:
        lines.append(_("Where: {value}").format(value=escape(place)))
    if event.languages:
        lines.append(_("Languages: {value}").format(value=escape(language_list(event.languages, locale))))
    if event.description:
        lines.append("\n" + escape(event.description))
    if event.link:
        lines.append(_("More: {value}").format(value=escape(event.link)))
    return "\n".join(lines + share_line("e", event.id))


def share_line(kind: str, item_id: int | None) -> list[str]:
    """The card's deep link, to pass on (none until the bot knows its username)."""
    link = share_link(kind, item_id)
    return [_("🔗 Share: {link}").format(link=escape(link))] if link else []
