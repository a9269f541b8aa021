"""Event texts and keyboards: cards, RSVP buttons, reminders, decisions, moderation, attendees.

Pure functions of (model, locale, zone) built with `_()`: handlers render them in the update's
locale, jobs inside `i18n.use_locale(member's locale)`, so both send the same thing the same way.
"""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import RSVP_CODES, AttendeeMsgCB, EventCB, MapCB, ModCB, RsvpCB, SeriesCB
from bot.i18n import escape, format_when, pgettext
from bot.keyboards import TICK
from bot.labels import interest_label
from bot.services import events as ev
from bot.views.cards import event_card
from db.models import Event, EventStatus, Member, Organisation, Rsvp, RsvpStatus


def reason_text(reason: str) -> str:
    """Why a value was refused, in the current locale."""
    reasons = {
        "title_empty": _("The title cannot be empty. Please send a title."),
        "title_too_long": _("The title is too long: at most 120 characters, please."),
        "description_empty": _("The description cannot be empty. Please send a few words about the event."),
        "description_too_long": _("The description is too long: at most 2000 characters, please."),
        "date_format": _("I could not read that date. Please type it like 25.12.2026 18:30, 2026-12-25 18:30 or 25/12 18:30."),
        "nonexistent_time": _("That time does not exist on that day in the venue's time zone (the clocks change). Please choose another time."),
        "past": _("That moment has already passed. Please give a time in the future."),
        "too_far": _("That is more than two years ahead. Please give a date within the next two years."),
        "end_before_start": _("The end must be after the start. Please send the end again, or skip."),
        "too_long_duration": _("An event can last at most two weeks. Please send the end again, or skip."),
        "link": _("That does not look like a web link. Please send a link such as https://example.org, or skip."),
        "capacity": _("Please send the number of places as a whole number from 1 to 100000, or skip."),
        "venue_not_found": _("I could not find that place. Type the address and the city separated by a comma, "
                             "for example: Kulturhaus, Hauptstraße 5, Berlin. Or share the venue's location."),
        "reason_empty": _("The reason cannot be empty. Please write why the event is rejected."),
        "reason_too_long": _("The reason is too long: at most 500 characters, please."),
        "no_room_for_guests": _("There are not enough free places for that many guests."),
        "incomplete": _("The draft is incomplete. Please fill in every step."),
    }
    return reasons.get(reason, _("This menu has expired. Please start again."))


def expired_text() -> str:
    return _("This menu has expired. Please start again.")


def secretariat_only() -> str:
    return _("Only the secretariat can do this.")


def representative_only() -> str:
    """The refusal of an action on an event or organisation the member does not represent."""
    return _("Only a representative of this organisation can do this.")


def submit_refusal() -> str:
    """/submit_event and /my_events for someone who represents no organisation."""
    return _("Only representatives of an organisation can submit events. "
             "If you represent one, ask the secretariat to grant you the role.")


def cancelled_refusal() -> str:
    return _("This event has been cancelled and can no longer be changed.")


def decision_refusal(error: Exception) -> str:
    """Why the secretariat's Approve, Reject or reason did nothing."""
    if isinstance(error, ev.WrongStatus):
        return _("This event has already been decided: it is {status}.").format(status=status_label(error.status))
    if isinstance(error, ev.EventNotFound):
        return _("This entry is no longer listed.")
    return secretariat_only()


def counts_line(counts: ev.RsvpCounts | None, capacity: int | None) -> str | None:
    """"12 going (+3 guests) · 4 maybe · 2 waiting · 5 places left"; capacity alone in a preview."""
    if counts is None:
        return _("Places: {count}").format(count=capacity) if capacity else None
    parts = [_("{count} going").format(count=counts.going)]
    if counts.guests:
        parts[0] += " " + ngettext("(+{count} guest)", "(+{count} guests)", counts.guests).format(count=counts.guests)
    if counts.maybe:
        parts.append(_("{count} maybe").format(count=counts.maybe))
    if counts.waitlisted:
        parts.append(_("{count} on the waitlist").format(count=counts.waitlisted))
    if counts.capacity is not None:
        left = counts.seats_left or 0
        parts.append(ngettext("{count} place left", "{count} places left", left).format(count=left) if left else _("full"))
    return "👥 " + " · ".join(parts)


def event_card_text(event: Event, host: Organisation | None, locale: str, zone: str | None,
                    counts: ev.RsvpCounts | None = None) -> str:
    """The card members see: the directory's card, the category and the answers so far."""
    lines = [event_card(event, host, locale, zone)]
    if event.category:
        lines.append(_("Category: {value}").format(value=interest_label(event.category)))
    line = counts_line(counts, event.capacity)
    if line:
        lines.append(line)
    if event.status == EventStatus.CANCELLED.value:
        lines.insert(0, _("❌ <b>Cancelled</b>"))
    return "\n".join(lines)


def rsvp_keyboard(event: Event, rsvp: Rsvp | None, following_org: bool = False, following_city: bool = False) -> InlineKeyboardMarkup:
    """RSVP, guests, calendar, follow and map buttons for an event card."""
    builder = InlineKeyboardBuilder()
    rows: list[int] = []
    if event.status == EventStatus.APPROVED.value:
        current = rsvp.status if rsvp else None
        waiting = rsvp is not None and rsvp.waitlisted and current == RsvpStatus.GOING.value
        for code, label in (("g", _("Going")), ("m", _("Maybe")), ("n", _("Not going"))):
            mark = TICK if current == RSVP_CODES[code] else ""
            if code == "g" and waiting:  # the place is not theirs yet
                mark, label = "⏳ ", _("On the waitlist")
            builder.button(text=f"{mark}{label}", callback_data=RsvpCB(id=event.id, s=code))
        rows.append(3)
        if rsvp is not None and rsvp.status == RsvpStatus.GOING.value:
            for guests in range(ev.GUESTS_MAX + 1):
                mark = TICK if rsvp.guests == guests else ""
                label = _("alone") if guests == 0 else f"+{guests}"
                builder.button(text=f"{mark}{label}", callback_data=RsvpCB(id=event.id, s="g", n=guests))
            rows.append(ev.GUESTS_MAX + 1)
    builder.button(text=_("📅 Add to calendar"), callback_data=EventCB(a="ics", id=event.id))
    rows.append(1)
    builder.button(text=(TICK if following_org else "🔔 ") + _("Follow the organiser"), callback_data=EventCB(a="fo", id=event.id))
    builder.button(text=(TICK if following_city else "🔔 ") + _("Follow the city"), callback_data=EventCB(a="fc", id=event.id))
    rows.append(2)
    if event.latitude is not None and event.longitude is not None:
        builder.button(text=_("📍 Show on map"), callback_data=MapCB(k="e", id=event.id))
        rows.append(1)
    builder.adjust(*rows)
    return builder.as_markup()


def reminder_text(event: Event, kind: str, locale: str, zone: str | None) -> str:
    when = format_when(event.starts_at, locale, zone or event.timezone, "full")
    place = escape(", ".join(p for p in (event.venue, event.city) if p) or "—")
    if kind == "1h":
        text = _("⏰ In about an hour: <b>{title}</b>\n{when}\n{place}")
    else:
        text = _("⏰ Tomorrow: <b>{title}</b>\n{when}\n{place}")
    return text.format(title=escape(event.title), when=when, place=place)


def reminder_keyboard(event: Event) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("📅 Add to calendar"), callback_data=EventCB(a="ics", id=event.id))
    builder.button(text=_("🔕 Stop event reminders"), callback_data=EventCB(a="remoff"))
    builder.adjust(1)
    return builder.as_markup()


def new_event_text(event: Event, host: Organisation | None, locale: str, zone: str | None) -> str:
    return _("🆕 A new event you may like:") + "\n\n" + event_card_text(event, host, locale, zone)


def promoted_text(event: Event, locale: str, zone: str | None) -> str:
    return _("🎉 A place has freed up: you are now going to <b>{title}</b> ({when}).").format(
        title=escape(event.title), when=format_when(event.starts_at, locale, zone or event.timezone, "medium"))


def cancelled_text(event: Event, locale: str, zone: str | None) -> str:
    return _("❌ <b>{title}</b> ({when}) has been cancelled by the organisers.").format(
        title=escape(event.title), when=format_when(event.starts_at, locale, zone or event.timezone, "medium"))


def approved_text(event: Event) -> str:
    return _("✅ Your event <b>{title}</b> was approved and is now listed.").format(title=escape(event.title))


def rejected_text(event: Event) -> str:
    return _("Your event <b>{title}</b> was not approved.\nReason: {reason}\n\nYou can edit it and send it again.").format(
        title=escape(event.title), reason=escape(event.reject_reason or "—"))


def manage_keyboard(event: Event) -> InlineKeyboardMarkup:
    """A representative's buttons for one of their events."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✏️ Edit"), callback_data=EventCB(a="edit", id=event.id))
    if event.status != EventStatus.CANCELLED.value:
        builder.button(text=_("❌ Cancel the event"), callback_data=EventCB(a="cancel", id=event.id))
    builder.button(text=_("👥 Attendees"), callback_data=EventCB(a="att", id=event.id))
    rows = []
    if event.status in (EventStatus.APPROVED.value, EventStatus.CANCELLED.value):
        builder.button(text=_("✉️ Message attendees"), callback_data=AttendeeMsgCB(a="start", id=event.id))
        rows.append(1)
    if event.status != EventStatus.CANCELLED.value:
        builder.button(text=_("🔁 Repeat"), callback_data=SeriesCB(a="start", id=event.id))
        rows.append(1)
    builder.adjust(2, 1, *rows)
    return builder.as_markup()


def cancel_question(event: Event) -> tuple[str, InlineKeyboardMarkup]:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, cancel it"), callback_data=EventCB(a="cancel_yes", id=event.id))
    builder.button(text=_("No, keep it"), callback_data=EventCB(a="keep", id=event.id))
    return _("Cancel <b>{title}</b>? Everyone who answered will be told.").format(title=escape(event.title)), builder.as_markup()


def cancelled_done_text(event: Event, told: int) -> str:
    return ngettext("<b>{title}</b> is cancelled. {count} person who answered is being told.",
                    "<b>{title}</b> is cancelled. {count} people who answered are being told.", told).format(
        title=escape(event.title), count=told)


def my_event_text(event: Event, host: Organisation | None, locale: str, zone: str | None, counts: ev.RsvpCounts) -> str:
    """One of a representative's events in /my_events: its status, then its card with the answers."""
    return _("Status: {value}").format(value=status_label(event.status)) + "\n" + event_card_text(event, host, locale, zone, counts)


def moderation_keyboard(event: Event) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Approve"), callback_data=ModCB(a="ok", id=event.id))
    builder.button(text=_("❌ Reject"), callback_data=ModCB(a="no", id=event.id))
    return builder.as_markup()


def moderation_text(event: Event, host: Organisation | None, submitter: Member | None, locale: str, zone: str | None) -> str:
    header = _("🗂 <b>To moderate</b> (event #{id}), from {organisation}, sent by {name}:").format(
        id=event.id, organisation=escape(host.name if host else "—"), name=escape(submitter.display_name if submitter and submitter.display_name else "—"))
    return header + "\n\n" + event_card_text(event, host, locale, zone)


def event_card_view(card: ev.EventCard, locale: str, zone: str | None) -> tuple[str, InlineKeyboardMarkup]:
    """Text and buttons of an event card for the member the card was read for."""
    text = event_card_text(card.event, card.host, locale, zone, card.counts)
    return text, rsvp_keyboard(card.event, card.rsvp, card.following_org, card.following_city)


def status_label(status: str) -> str:
    return {
        EventStatus.PENDING.value: _("waiting for moderation"),
        EventStatus.APPROVED.value: _("approved"),
        EventStatus.REJECTED.value: _("rejected"),
        EventStatus.CANCELLED.value: pgettext("event status", "cancelled"),
    }.get(status, status)


def attendees_view(event: Event, page: ev.AttendeePage) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the attendee list: 50 names of at most 48 characters stay well below Telegram's 4096 (counted after parsing)."""
    lines = [_("<b>{title}</b>: {count} answered going or maybe").format(title=escape(event.title), count=page.total)]
    for number, person in enumerate(page.items, start=page.offset + 1):
        mark = "⏳" if person.waitlisted else ("✅" if person.status == RsvpStatus.GOING.value else "🤔")
        guests = f" +{person.guests}" if person.guests else ""
        lines.append(f"{number}. {mark} {escape(person.name[:48])}{guests}")
    if not page.items:
        lines.append(_("Nobody yet."))
    builder = InlineKeyboardBuilder()
    if page.offset > 0:
        builder.button(text="◀", callback_data=EventCB(a="att", id=event.id, o=max(0, page.offset - page.limit)))
    if page.has_next:
        builder.button(text="▶", callback_data=EventCB(a="att", id=event.id, o=page.offset + page.limit))
    markup = builder.as_markup() if (page.offset > 0 or page.has_next) else None
    return "\n".join(lines), markup


def is_attendee_list(markup: InlineKeyboardMarkup | None) -> bool:
    """Whether a keyboard is an attendee list's pager (its pages edit that message in place)."""
    pager = f"{EventCB.__prefix__}{EventCB.__separator__}att{EventCB.__separator__}"
    return markup is not None and bool(markup.inline_keyboard) and all(
        (button.callback_data or "").startswith(pager) for row in markup.inline_keyboard for button in row)


def feed_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🔄 New address (the old one stops working)"), callback_data=EventCB(a="feednew"))
    builder.button(text=_("🚫 Turn the feed off"), callback_data=EventCB(a="feedoff"))
    builder.adjust(1)
    return builder.as_markup()


def feed_text(address: str | None) -> str:
    """The member's personal calendar feed, or why there is no address yet."""
    if address is None:
        return _("Your personal calendar feed is ready, but this server has no public web address yet. "
                 "Use “Add to calendar” on each event meanwhile.")
    return _("Your personal calendar feed:\n<code>{url}</code>\n\nSubscribe to it in your calendar app to see the events you answered. "
             "Keep it secret: anyone with the address sees those events.").format(url=escape(address))
