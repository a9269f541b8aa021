"""Keyboards, built at call time so their labels are in the current locale."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

from aiogram.types import InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.callbacks import (
    CityCB,
    ConsentCB,
    DoneCB,
    EraseCB,
    LanguageCB,
    MenuCB,
    NotifyCB,
    OriginCB,
    ProfileCB,
    ToggleCB,
)
from bot.config import LOCALES
from bot.geo import City, city_name
from bot.i18n import LANGUAGE_NAMES
from bot.labels import country_label, interest_label, language_label
from bot.services.registration import INTERESTS, ORIGIN_COUNTRIES, QUIET_PRESETS, RADII_KM, SPOKEN_LANGUAGES

TICK = "✅ "


@functools.lru_cache(maxsize=16)  # one per locale and one without a tick; bounded all the same
def language_keyboard(current: str | None = None) -> InlineKeyboardMarkup:
    """Each language in its own name; the current one is ticked. Its labels do not depend on the
    locale, so each of the nine variants is built once and shared: callers must not change it."""
    builder = InlineKeyboardBuilder()
    for code in LOCALES:
        mark = TICK if code == current else ""
        builder.button(text=f"{mark}{LANGUAGE_NAMES[code]}", callback_data=LanguageCB(code=code))
    builder.adjust(2)
    return builder.as_markup()


def consent_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("I accept"), callback_data=ConsentCB(accept=True))
    builder.button(text=_("I decline"), callback_data=ConsentCB(accept=False))
    return builder.as_markup()


def share_location_keyboard() -> ReplyKeyboardMarkup:
    """A reply keyboard whose one button shares the phone's location."""
    return ReplyKeyboardMarkup(
        keyboard=[[KeyboardButton(text=_("📍 Share my location"), request_location=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
        input_field_placeholder=_("or type your city"),
    )


def city_label(city: City, locale: str) -> str:
    """'Paris, France' or 'Paris, TX, United States': enough to tell namesakes apart."""
    region = f", {city.admin1_code}" if city.admin1_code and city.admin1_code.isalpha() else ""
    return f"{city_name(city, locale)}{region}, {country_label(city.country_code, locale)}"[:64]


def cities_keyboard(cities: Iterable[City], locale: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for city in cities:
        builder.button(text=city_label(city, locale), callback_data=CityCB(id=city.geoname_id))
    builder.adjust(1)
    return builder.as_markup()


def origin_keyboard(locale: str, codes: Sequence[str] = ORIGIN_COUNTRIES, *, other: bool = True) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code in codes:
        builder.button(text=country_label(code, locale)[:64], callback_data=OriginCB(code=code))
    if other:
        builder.button(text=_("Another country…"), callback_data=OriginCB(code="other"))
    builder.adjust(2)
    return builder.as_markup()


def toggles_keyboard(field: str, chosen: Iterable[str], locale: str) -> InlineKeyboardMarkup:
    """Multi-select of spoken languages or interests, with a Done button."""
    picked = set(chosen)
    options = SPOKEN_LANGUAGES if field == "languages" else INTERESTS
    builder = InlineKeyboardBuilder()
    for code in options:
        label = language_label(code, locale) if field == "languages" else interest_label(code)
        builder.button(text=f"{TICK if code in picked else ''}{label}"[:64], callback_data=ToggleCB(field=field, value=code))
    builder.button(text=_("Done ▶"), callback_data=DoneCB(step=field))
    builder.adjust(*([2] * ((len(options) + 1) // 2)), 1)
    return builder.as_markup()


def _on_off(value: bool) -> str:
    return _("on") if value else _("off")


def quiet_label(quiet: Sequence[str] | None) -> str:
    return f"{quiet[0]}–{quiet[1]}" if quiet else _("no quiet hours")


def notifications_keyboard(draft: dict) -> InlineKeyboardMarkup:  # type: ignore[type-arg]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Announcements: {state}").format(state=_on_off(draft["notify_announcements"])),
                   callback_data=NotifyCB(action="ann"))
    builder.button(text=_("New events near me: {state}").format(state=_on_off(draft["notify_events"])),
                   callback_data=NotifyCB(action="events"))
    builder.button(text=_("Weekly digest: {state}").format(state=_on_off(draft.get("digest_weekly", False))),
                   callback_data=NotifyCB(action="digest"))
    for radius in RADII_KM:
        mark = TICK if draft["radius_km"] == radius else ""
        builder.button(text=_("{mark}{km} km").format(mark=mark, km=radius), callback_data=NotifyCB(action="radius", value=radius))
    current = tuple(draft["quiet"]) if draft.get("quiet") else None
    for index, preset in enumerate(QUIET_PRESETS):
        mark = TICK if preset == current else ""
        builder.button(text=f"{mark}{quiet_label(preset)}", callback_data=NotifyCB(action="quiet", value=index))
    builder.button(text=_("Done ▶"), callback_data=NotifyCB(action="done"))
    builder.adjust(1, 1, 1, len(RADII_KM), 2, 2, 1)
    return builder.as_markup()


def profile_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for field, label in (
        ("name", _("✏️ Name")),
        ("place", _("✏️ Where I live")),
        ("origin", _("✏️ Origin")),
        ("languages", _("✏️ Languages")),
        ("interests", _("✏️ Interests")),
        ("notifications", _("✏️ Notifications")),
        ("language", _("✏️ Bot language")),
    ):
        builder.button(text=label, callback_data=ProfileCB(field=field))
    builder.adjust(2)
    return builder.as_markup()


def main_menu_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, label in (
        ("nearby", _("📍 Near me")),
        ("events", _("📅 Events")),
        ("my_answers", _("🎟 My events")),
        ("profile", _("👤 My profile")),
        ("settings", _("🔔 Notifications")),
        ("language", _("🌐 Language")),
        ("mydata", _("📄 My data")),
        ("help", _("❓ Help")),
    ):
        builder.button(text=label, callback_data=MenuCB(action=action))
    builder.adjust(2)
    return builder.as_markup()


def erase_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("Yes, erase everything"), callback_data=EraseCB(confirm=True))
    builder.button(text=_("No, keep my data"), callback_data=EraseCB(confirm=False))
    builder.adjust(1)
    return builder.as_markup()
