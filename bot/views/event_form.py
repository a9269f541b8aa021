"""The event form's questions and keyboards (/submit_event and editing an event): pure functions
of the draft, the locale and the venue's zone; handlers/events/form.py sends them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import FormCB
from bot.geo import City
from bot.i18n import escape, format_when
from bot.keyboards import TICK, city_label
from bot.labels import interest_label, language_label
from bot.services import events as ev
from db.models import Organisation

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | None

#: The form's steps in order; the preview comes after the last.
STEPS = ("title", "description", "venue", "start", "end", "languages", "category", "capacity", "link")
SKIPPABLE = ("end", "capacity", "link")


def skip_keyboard(step: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Skip ▶"), callback_data=FormCB(a="skip", v=step))
    return builder.as_markup()


def venue_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📍 Share the venue's location"), request_location=True)]],
        resize_keyboard=True, one_time_keyboard=True,
    )


def languages_keyboard(chosen: Sequence[str], locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in ev.EVENT_LANGUAGES:
        builder.button(text=f"{TICK if code in chosen else ''}{language_label(code, locale)}"[:64], callback_data=FormCB(a="lang", v=code))
    builder.button(text=_("Done ▶"), callback_data=FormCB(a="done", v="languages"))
    builder.adjust(*([2] * ((len(ev.EVENT_LANGUAGES) + 1) // 2)), 1)
    return builder.as_markup()


def category_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in ev.EVENT_CATEGORIES:
        builder.button(text=interest_label(code)[:64], callback_data=FormCB(a="cat", v=code))
    builder.adjust(2)
    return builder.as_markup()


def step_question(step: str, draft: dict[str, Any], locale: str) -> tuple[str, Markup]:
    """The question of a typed or tapped step (every step but the start, which has its day buttons)."""
    if step == "title":
        return _("What is the event called? Send a title of up to 120 characters."), None
    if step == "description":
        return _("Describe the event in up to 2000 characters."), None
    if step == "venue":
        return _("Where does it take place? Share the venue's location (📎 → Location), "
                 "or type the address and the city separated by a comma, for example: "
                 "Kulturhaus, Hauptstraße 5, Berlin"), venue_keyboard()
    if step == "end":
        return _("When does it end? Type a time such as 21:00, or a date and time. Or skip."), skip_keyboard("end")
    if step == "languages":
        return _("Which languages will be spoken? Tap all that apply, then Done."), languages_keyboard(draft.get("languages") or [], locale)
    if step == "category":
        return _("What kind of event is it?"), category_keyboard()
    if step == "capacity":
        return _("How many places are there? Send a number, or skip if there is no limit."), skip_keyboard("capacity")
    if step == "link":
        return _("Is there a web page for the event (tickets, details)? Send the link, or skip."), skip_keyboard("link")
    raise ValueError(step)


def start_question(days: Sequence[date], zone: str, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """When does it start: the next days as buttons (then a typed time), or a typed date and time."""
    builder = InlineKeyboardBuilder()
    for day in days:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=ev.zone_of(zone))
        builder.button(text=format_when(noon, locale, zone, "day"), callback_data=FormCB(a="day", v=day.isoformat()))
    builder.adjust(4, 3)
    text = _("When does it start? Type the date and time in the venue's time zone ({zone}), "
             "for example 25.12.2026 18:30 — or tap a day and then type the time.").format(zone=escape(zone))
    return text, builder.as_markup()


def organisation_question(organisations: Sequence[Organisation]) -> tuple[str, InlineKeyboardMarkup]:
    builder = InlineKeyboardBuilder()
    for organisation in organisations:
        builder.button(text=organisation.name[:64], callback_data=FormCB(a="org", v=str(organisation.id)))
    builder.adjust(1)
    return _("Which organisation holds the event?"), builder.as_markup()


def city_question(cities: Sequence[City], locale: str) -> tuple[str, InlineKeyboardMarkup]:
    builder = InlineKeyboardBuilder()
    for city in cities:
        builder.button(text=city_label(city, locale), callback_data=FormCB(a="city", v=str(city.geoname_id)))
    builder.adjust(1)
    return _("Which city is it in?"), builder.as_markup()


def venue_line(venue: ev.Venue) -> str:
    place = ", ".join(p for p in (venue.name, venue.city) if p) or f"{venue.latitude:.4f}, {venue.longitude:.4f}"
    return _("Venue: {place} (time zone {zone}).").format(place=escape(place), zone=escape(venue.timezone))


def preview_keyboard() -> InlineKeyboardMarkup:
    """A button to change each part of the draft, then Submit and Discard."""
    builder = InlineKeyboardBuilder()
    for step, label in (
        ("title", _("✏️ Title")), ("description", _("✏️ Description")), ("venue", _("✏️ Venue")),
        ("start", _("✏️ Start")), ("end", _("✏️ End")), ("languages", _("✏️ Languages")),
        ("category", _("✏️ Category")), ("capacity", _("✏️ Places")), ("link", _("✏️ Link")),
    ):
        builder.button(text=label, callback_data=FormCB(a="field", v=step))
    builder.button(text=_("📨 Submit"), callback_data=FormCB(a="submit"))
    builder.button(text=_("🗑 Discard"), callback_data=FormCB(a="discard"))
    builder.adjust(3, 3, 3, 2)
    return builder.as_markup()
