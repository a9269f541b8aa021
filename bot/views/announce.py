"""The /announce composer and /scheduled: texts and keyboards as pure functions of the draft, the
locale and the secretary's time zone (no database, no sending). The draft is the composer's
conversation data: texts per locale, audience, when, urgent, photo, link."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import get_day_names

from bot.callbacks import AnnounceCB, ScheduledCB
from bot.config import LOCALES
from bot.i18n import LANGUAGE_NAMES, babel_locale, escape, format_number, format_when, pgettext
from bot.i18n import weekday_name as weekday_in_text
from bot.keyboards import TICK
from bot.labels import country_label, interest_label, language_label, language_list
from bot.services.announcements import AnnouncementError, ScheduledList, text_for
from bot.services.vocab import INTERESTS, SPOKEN_LANGUAGES

View = tuple[str, InlineKeyboardMarkup]
#: The audience criteria that are typed (the others are toggled or reset with buttons).
TYPED_CRITERIA = ("countries", "cities", "radius", "origins")
TOGGLED_CRITERIA = ("languages", "interests")
WEEKDAYS = range(7)


def expired() -> str:
    return _("This menu has expired. Please start again.")


def _back(builder: InlineKeyboardBuilder, action: str = "back") -> None:
    builder.button(text=_("◀ Back"), callback_data=AnnounceCB(action=action))


# --- the text ------------------------------------------------------------------------------

def text_prompt(locale: str) -> View:
    """The first question: the text in the secretary's language, or another language first."""
    builder = InlineKeyboardBuilder()
    for code in LOCALES:
        builder.button(text=f"{TICK if code == locale else ''}{LANGUAGE_NAMES[code]}", callback_data=AnnounceCB(action="lang", value=code))
    builder.adjust(4)
    return (_("Send the announcement text in {language}. Bold, italic and links are kept. "
              "Or choose another language first.").format(language=LANGUAGE_NAMES[locale]), builder.as_markup())


def text_asked(code: str) -> str:
    return _("Now send the text in {language}.").format(language=LANGUAGE_NAMES[code])


def translations(draft: dict[str, Any]) -> View:
    """Which language to add or replace; the ones written are ticked."""
    builder = InlineKeyboardBuilder()
    for code in LOCALES:
        builder.button(text=f"{TICK if code in draft['texts'] else ''}{LANGUAGE_NAMES[code]}", callback_data=AnnounceCB(action="lang", value=code))
    _back(builder)
    builder.adjust(4, 4, 1)
    return _("Which language? A member gets their own language, else English, else the first text."), builder.as_markup()


# --- the menu ------------------------------------------------------------------------------

def _yes_no(value: object) -> str:
    return _("yes") if value else _("no")


def menu(draft: dict[str, Any], size: int, zone: str, locale: str) -> View:
    """The composer's summary with every step's button; `size` is how many members match."""
    languages = ", ".join(LANGUAGE_NAMES[code] for code in draft["texts"]) or "—"
    lines = [
        _("<b>New announcement</b>"),
        _("Texts: {languages}").format(languages=escape(languages)),
        ngettext("Audience: {audience} — {count} member", "Audience: {audience} — {count} members", size).format(
            audience=audience_text(draft["audience"], locale), count=format_number(size, locale)),
        _("When: {when}").format(when=when_text(draft["when"], zone, locale)),
        _("Photo: {photo} · Link button: {link} · Urgent (ignores quiet hours): {urgent}").format(
            photo=_yes_no(draft.get("photo")),
            link=escape(draft["link_url"]) if draft.get("link_url") else _("no"),
            urgent=_yes_no(draft.get("urgent")),
        ),
    ]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("➕ Text in another language"), callback_data=AnnounceCB(action="translations"))
    builder.button(text=_("👥 Audience"), callback_data=AnnounceCB(action="audience"))
    builder.button(text=_("⏰ When"), callback_data=AnnounceCB(action="when"))
    builder.button(text=_("🖼 Photo"), callback_data=AnnounceCB(action="photo"))
    builder.button(text=_("🔗 Link button"), callback_data=AnnounceCB(action="link"))
    builder.button(text=_("⚡ Urgent: {state}").format(state=_yes_no(draft.get("urgent"))), callback_data=AnnounceCB(action="urgent"))
    builder.button(text=_("👁 Preview"), callback_data=AnnounceCB(action="preview"))
    builder.button(text=_("✅ Confirm"), callback_data=AnnounceCB(action="confirm"))
    builder.button(text=_("✖ Discard"), callback_data=AnnounceCB(action="discard"))
    builder.adjust(1, 2, 3, 2, 1)
    return "\n".join(lines), builder.as_markup()


def audience_text(audience: dict[str, Any], locale: str) -> str:
    """The audience in words, every user-supplied part escaped."""
    if not audience:
        return _("everyone")
    parts = []
    if audience.get("countries"):
        parts.append(_("living in {places}").format(places=", ".join(country_label(c, locale) for c in audience["countries"])))
    if audience.get("cities"):
        from bot.geo import get_gazetteer

        names = [city.name for city in map(get_gazetteer().get, audience["cities"]) if city]
        parts.append(_("in the cities {places}").format(places=", ".join(names)))
    if audience.get("radius"):
        area = audience["radius"]
        parts.append(_("within {km} km of {lat}, {lon}").format(km=format_number(area["km"], locale), lat=area["lat"], lon=area["lon"]))
    if audience.get("origins"):
        parts.append(_("from {places}").format(places=", ".join(country_label(c, locale) for c in audience["origins"])))
    if audience.get("languages"):
        parts.append(_("speaking {languages}").format(languages=language_list(audience["languages"], locale)))
    if audience.get("interests"):
        parts.append(_("interested in {interests}").format(interests=", ".join(interest_label(c) for c in audience["interests"])))
    return escape("; ".join(parts))


def when_text(when: dict[str, Any], zone: str, locale: str) -> str:
    """When the draft goes out, times in the secretary's zone."""
    mode = when.get("mode", "now")
    if mode == "at":
        return format_when(datetime.fromisoformat(when["at"]), locale, zone, "medium")
    if mode == "daily":
        return _("every day at {clock} ({zone})").format(clock=when["clock"], zone=escape(zone))
    if mode == "weekly":
        return _("every {weekday} at {clock} ({zone})").format(weekday=weekday_in_text(when["weekday"], locale), clock=when["clock"], zone=escape(zone))
    return _("now")


# --- the audience --------------------------------------------------------------------------

def audience_menu(audience: dict[str, Any]) -> View:
    """The criteria; the ones set are ticked (Everyone when none is)."""
    builder = InlineKeyboardBuilder()
    for key, label in (("everyone", _("Everyone")), ("countries", _("Countries")), ("cities", _("Cities")),
                       ("radius", _("Within a radius")), ("languages", _("Languages spoken")), ("interests", _("Interests")),
                       ("origins", _("Countries of origin"))):
        mark = TICK if (key == "everyone" and not audience) or audience.get(key) else ""
        builder.button(text=f"{mark}{label}", callback_data=AnnounceCB(action="aud", value=key))
    _back(builder)
    builder.adjust(1, 2, 2, 2, 1)
    return _("Who should receive it? Criteria combine: a member must match each one you set."), builder.as_markup()


def audience_prompt(key: str) -> str:
    """What to type for a typed criterion (one of TYPED_CRITERIA)."""
    return {
        "countries": _("Send the countries where members live, separated by commas (in any language), e.g. Germany, Türkiye."),
        "cities": _("Send the cities, separated by commas, e.g. Berlin, Köln, Алматы."),
        "radius": _("Send a place and a radius in km: a city and a number (Berlin 50), or coordinates and a number (52.52 13.40 50)."),
        "origins": _("Send the countries of origin, separated by commas, e.g. Kazakhstan, Kyrgyzstan."),
    }[key]


def toggles(key: str, audience: dict[str, Any], locale: str) -> View:
    """Languages spoken or interests (`key`), the chosen ones ticked."""
    chosen = set(audience.get(key, []))
    builder = InlineKeyboardBuilder()
    options = SPOKEN_LANGUAGES if key == "languages" else INTERESTS
    action = "lang_toggle" if key == "languages" else "interest_toggle"
    for code in options:
        label = language_label(code, locale) if key == "languages" else interest_label(code)
        builder.button(text=f"{TICK if code in chosen else ''}{label}"[:64], callback_data=AnnounceCB(action=action, value=code))
    _back(builder, "audience")
    builder.adjust(*([2] * ((len(options) + 1) // 2)), 1)
    title = _("Members who speak any of these languages:") if key == "languages" else _("Members interested in any of these:")
    return title, builder.as_markup()


def radius_unreadable() -> str:
    return _("I could not read that. Send a city and a number (Berlin 50) or coordinates and a number (52.52 13.40 50).")


def not_found(names: Iterable[str]) -> str:
    """The typed names no country or city matched."""
    return _("I could not find: {names}. Please check the spelling and send the list again.").format(
        names=escape(", ".join(names)))


# --- when ----------------------------------------------------------------------------------

def when_menu() -> View:
    builder = InlineKeyboardBuilder()
    for mode, label in (("now", _("Now")), ("at", _("At a date and time")), ("daily", _("Every day")), ("weekly", _("Every week"))):
        builder.button(text=label, callback_data=AnnounceCB(action="when_mode", value=mode))
    _back(builder)
    builder.adjust(2, 2, 1)
    return _("When should it go out?"), builder.as_markup()


def weekday_name(index: int, locale: str) -> str:
    """A weekday as a button shows it (0 = Monday)."""
    return get_day_names("wide", locale=babel_locale(locale))[index]


def weekdays(locale: str) -> View:
    builder = InlineKeyboardBuilder()
    for index in WEEKDAYS:
        builder.button(text=weekday_name(index, locale), callback_data=AnnounceCB(action="weekday", value=str(index)))
    builder.adjust(4)
    return _("On which day of the week?"), builder.as_markup()


def moment_prompt(zone: str) -> str:
    return _("Send the date and time in your time zone ({zone}), e.g. 25.12.2026 18:30.").format(zone=escape(zone))


def clock_prompt(zone: str) -> str:
    return _("Send the time of day in your time zone ({zone}), e.g. 09:00.").format(zone=escape(zone))


def date_unreadable() -> str:
    return _("I could not read that date. Please send it like 25.12.2026 18:30.")


def clock_unreadable() -> str:
    return _("Please send the time like 09:00.")


def past() -> str:
    return _("That time has already passed. Please choose a time in the future.")


# --- photo, link, anything else -------------------------------------------------------------

def photo_prompt() -> str:
    return _("Send the photo (its caption is not used; the text is). Texts with a photo may be up to 1024 characters.")


def link_prompt() -> str:
    return _("Send the address and the button text, e.g. https://example.org Read more")


def link_refused() -> str:
    return _("That does not look like a web address. Send it as https://… followed by the button text.")


def use_the_buttons() -> str:
    return _("Please use the buttons, or send what the last message asks for. /announce starts over.")


def discarded() -> str:
    return _("The announcement was discarded.")


def needs_text() -> str:
    return _("The announcement needs a text.")


def recurrence_refused(zone: str) -> str:
    return _("A repeating announcement cannot be kept for the time zone {zone}. Please choose a date and time instead.").format(
        zone=escape(zone))


def error_text(error: AnnouncementError) -> str:
    """A translated reason for a refused announcement (or attendee message) text, typed answer or schedule."""
    code, details = error.code, error.details
    typed_answers = {"radius": radius_unreadable, "date": date_unreadable, "clock": clock_unreadable, "link": link_refused}
    if code in typed_answers:
        return typed_answers[code]()
    if code == "not_found":
        return not_found(details.get("names", []))
    if code == "recurrence":
        return recurrence_refused(details.get("zone", ""))
    if code == "html":
        return _("Telegram would reject this formatting: {reason}. Please fix the text and send it again.").format(reason=escape(details.get("reason", "")))
    if code == "too_long":
        return _("This text is {length} characters long; Telegram allows {limit}. Please shorten it.").format(
            length=details["length"], limit=details["limit"])
    if code == "past":
        return past()
    if code == "empty_audience":
        return _("No member matches this audience. Widen it: fewer criteria, more countries or a bigger radius.")
    return needs_text()


# --- preview and confirm ---------------------------------------------------------------------

def preview_header(code: str) -> str:
    return _("Preview — {language}:").format(language=LANGUAGE_NAMES[code])


def link_markup(draft: dict[str, Any]) -> InlineKeyboardMarkup | None:
    """The link button members get under the announcement, if it has one."""
    if not draft.get("link_url"):
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=draft["link_text"], url=draft["link_url"])]])


def confirmed(announcement_id: int, size: int, locale: str) -> str:
    return ngettext("Announcement #{id} confirmed for {count} member.", "Announcement #{id} confirmed for {count} members.", size).format(
        id=announcement_id, count=format_number(size, locale))


def waiting(when: dict[str, Any], zone: str, locale: str) -> str:
    """The progress message's first state."""
    return _("Waiting to be sent: {when}.").format(when=when_text(when, zone, locale))


# --- /scheduled ----------------------------------------------------------------------------

def scheduled(listing: ScheduledList, zone: str, locale: str) -> View:
    """What is scheduled or recurring (with cancel and edit buttons), and what was sent."""
    lines = [_("<b>Scheduled and recurring</b>")]
    builder = InlineKeyboardBuilder()
    for item in listing.upcoming:
        first = escape(text_for(item.texts, locale)[:60])
        when = format_when(item.send_at, locale, zone, "short") if item.send_at else "—"
        repeat = ""
        if item.repeat:  # in the zone the secretary chose when setting it, which may not be theirs now
            every = {"mode": item.repeat.mode, "weekday": item.repeat.weekday, "clock": f"{item.repeat.clock:%H:%M}"}
            repeat = " ⟳ " + when_text(every, item.repeat.zone, locale)
        lines.append(f"#{item.id} · {when}{repeat} · {first}")
        builder.button(text=_("✖ Cancel #{id}").format(id=item.id), callback_data=ScheduledCB(action="cancel", id=item.id))
        builder.button(text=_("✏️ Edit #{id}").format(id=item.id), callback_data=ScheduledCB(action="edit", id=item.id))
    if not listing.upcoming:
        lines.append(_("Nothing is scheduled."))
    lines.append("\n" + _("<b>Sent</b>"))
    for done in listing.finished:
        status = pgettext("announcement status", "cancelled") if done.cancelled else _("sent")
        lines.append(_("#{id} · {status} · sent {sent}, blocked {blocked}, failed {failed}").format(
            id=done.id, status=status, sent=done.sent, blocked=done.blocked, failed=done.failed))
    if not listing.finished:
        lines.append(_("Nothing has been sent yet."))
    builder.adjust(2)
    return "\n".join(lines), builder.as_markup()


def cannot_change() -> str:
    return _("This announcement can no longer be changed.")


def cancelled(announcement_id: int) -> str:
    return _("Announcement #{id} cancelled.").format(id=announcement_id)
