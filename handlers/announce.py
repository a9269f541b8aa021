"""/announce and /scheduled: the secretariat composes, targets, schedules and follows broadcasts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import AnnounceCB, ScheduledCB
from bot.config import LOCALES, Settings
from bot.filters import CurrentMenu
from bot.geo import search_countries
from bot.i18n import LANGUAGE_NAMES, escape, format_number, format_when, pgettext
from bot.i18n import weekday_name as weekday_in_text
from bot.keyboards import TICK
from bot.labels import country_label, interest_label, language_label, language_list
from bot.replies import edit_text
from bot.services import announcements as ann
from bot.numbers import COORDINATE_LAT, COORDINATE_LON, IntRange, NumberError, parse_decimal, parse_int
from bot.services.registration import INTERESTS, SPOKEN_LANGUAGES, find_cities
from bot.states import Announce
from bot.guards import guard
from bot.services.events import InvalidEventField, parse_local, to_utc
from bot.timeparse import parse_clock
from db.models import Announcement, Member
from db.types import utcnow

router = guard(Router(name="announce"), Announce)  # every handler here re-checks the role, once, in the guard
NOT_COMMAND = ~F.text.startswith("/")
WEEKDAYS = range(7)
WEEKDAY_RANGE = IntRange(0, 6)
RADIUS_MAX_KM = 20000


def _blank() -> dict[str, Any]:
    return {"texts": {}, "audience": {}, "when": {"mode": "now"}, "urgent": False, "photo": None, "link_url": None, "link_text": None}


async def _draft(state: FSMContext) -> dict[str, Any]:
    return dict((await state.get_data()).get("ann") or _blank())


async def _save(state: FSMContext, draft: dict[str, Any]) -> None:
    await state.update_data(ann=draft)


# --- entry -------------------------------------------------------------------------------

@router.message(Command("announce"))
async def start(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    await state.clear()
    draft = _blank()
    await state.set_state(Announce.text)
    await state.update_data(ann=draft, ann_locale=i18n.current_locale)
    await ask_text(message, state, i18n.current_locale)


async def ask_text(message: Message, state: FSMContext, locale: str) -> None:
    builder = InlineKeyboardBuilder()
    for code in LOCALES:
        builder.button(text=f"{TICK if code == locale else ''}{LANGUAGE_NAMES[code]}", callback_data=AnnounceCB(action="lang", value=code))
    builder.adjust(4)
    sent = await message.answer(
        _("Send the announcement text in {language}. Bold, italic and links are kept. "
          "Or choose another language first.").format(language=LANGUAGE_NAMES[locale]),
        reply_markup=builder.as_markup(),
    )
    await state.update_data(menu_id=sent.message_id)


@router.message(Announce.text, F.text, NOT_COMMAND)
async def text_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    draft = await _draft(state)
    text = message.html_text if message.entities else (message.text or "")
    try:
        text = ann.check_text(text, with_photo=bool(draft.get("photo")))
    except ann.AnnouncementError as error:
        await message.answer(error_text(error))
        return
    locale = (await state.get_data()).get("ann_locale", "en")
    draft["texts"] = {**draft["texts"], locale: text}
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


# --- the composer menu --------------------------------------------------------------------

async def show_menu(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, locale: str) -> None:
    text, markup = await render_menu(state, session, member, locale)
    await state.set_state(Announce.menu)
    sent = await message.answer(text, reply_markup=markup)
    await state.update_data(menu_id=sent.message_id)


async def render_menu(state: FSMContext, session: AsyncSession, member: Member | None, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    draft = await _draft(state)
    size = await ann.audience_size(session, ann.clean_audience(draft["audience"]))
    languages = ", ".join(LANGUAGE_NAMES[code] for code in draft["texts"]) or "—"
    lines = [
        _("<b>New announcement</b>"),
        _("Texts: {languages}").format(languages=escape(languages)),
        ngettext("Audience: {audience} — {count} member", "Audience: {audience} — {count} members", size).format(audience=audience_text(draft["audience"], locale), count=format_number(size, locale)),
        _("When: {when}").format(when=when_text(draft["when"], member, locale)),
        _("Photo: {photo} · Link button: {link} · Urgent (ignores quiet hours): {urgent}").format(
            photo=_("yes") if draft.get("photo") else _("no"),
            link=escape(draft["link_url"]) if draft.get("link_url") else _("no"),
            urgent=_("yes") if draft.get("urgent") else _("no"),
        ),
    ]
    builder = InlineKeyboardBuilder()
    builder.button(text=_("➕ Text in another language"), callback_data=AnnounceCB(action="translations"))
    builder.button(text=_("👥 Audience"), callback_data=AnnounceCB(action="audience"))
    builder.button(text=_("⏰ When"), callback_data=AnnounceCB(action="when"))
    builder.button(text=_("🖼 Photo"), callback_data=AnnounceCB(action="photo"))
    builder.button(text=_("🔗 Link button"), callback_data=AnnounceCB(action="link"))
    builder.button(text=_("⚡ Urgent: {state}").format(state=_("yes") if draft.get("urgent") else _("no")), callback_data=AnnounceCB(action="urgent"))
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


def when_text(when: dict[str, Any], member: Member | None, locale: str) -> str:
    zone = (member.timezone if member else None) or "UTC"
    mode = when.get("mode", "now")
    if mode == "at":
        return format_when(datetime.fromisoformat(when["at"]), locale, zone, "medium")
    if mode == "daily":
        return _("every day at {clock} ({zone})").format(clock=when["clock"], zone=escape(zone))
    if mode == "weekly":
        return _("every {weekday} at {clock} ({zone})").format(weekday=weekday_in_text(when["weekday"], locale), clock=when["clock"], zone=escape(zone))
    return _("now")


def weekday_name(index: int, locale: str) -> str:
    from babel.dates import get_day_names

    from bot.i18n import babel_locale

    return get_day_names("wide", locale=babel_locale(locale))[index]


def error_text(error: ann.AnnouncementError) -> str:
    """A translated reason for a refused announcement."""
    code, details = error.code, error.details
    if code == "html":
        return _("Telegram would reject this formatting: {reason}. Please fix the text and send it again.").format(reason=escape(details.get("reason", "")))
    if code == "too_long":
        return _("This text is {length} characters long; Telegram allows {limit}. Please shorten it.").format(
            length=details["length"], limit=details["limit"])
    if code == "past":
        return _("That time has already passed. Please choose a time in the future.")
    if code == "empty_audience":
        return _("No member matches this audience. Widen it: fewer criteria, more countries or a bigger radius.")
    if code == "link":
        return _("That does not look like a web address. Send it as https://… followed by the button text.")
    return _("The announcement needs a text.")


# --- composer buttons ----------------------------------------------------------------------

@router.callback_query(StateFilter(Announce), AnnounceCB.filter(), CurrentMenu())
async def composer(query: CallbackQuery, callback_data: AnnounceCB, state: FSMContext, session: AsyncSession,
                   member: Member | None, settings: Settings, i18n: I18n,
                   nudge_worker: Callable[[], Awaitable[None]] | None = None) -> None:
    locale = i18n.current_locale
    draft = await _draft(state)
    message: Message = query.message  # type: ignore[assignment]
    action, value = callback_data.action, callback_data.value
    if action == "lang" and value in LOCALES:
        await state.set_state(Announce.text)
        await state.update_data(ann_locale=value)
        await _close(query, _("Now send the text in {language}.").format(language=LANGUAGE_NAMES[value]))
        return
    if action == "translations":
        builder = InlineKeyboardBuilder()
        for code in LOCALES:
            builder.button(text=f"{TICK if code in draft['texts'] else ''}{LANGUAGE_NAMES[code]}", callback_data=AnnounceCB(action="lang", value=code))
        builder.button(text=_("◀ Back"), callback_data=AnnounceCB(action="back"))
        builder.adjust(4, 4, 1)
        await edit_text(message, _("Which language? A member gets their own language, else English, else the first text."),
                        reply_markup=builder.as_markup())
    elif action == "audience":
        await edit_text(message, _("Who should receive it? Criteria combine: a member must match each one you set."),
                        reply_markup=audience_keyboard(draft["audience"]))
    elif action == "aud" and value in ("countries", "cities", "radius", "origins"):
        await state.set_state(Announce.audience_input)
        await state.update_data(ann_input=value)
        prompts = {
            "countries": _("Send the countries where members live, separated by commas (in any language), e.g. Germany, Türkiye."),
            "cities": _("Send the cities, separated by commas, e.g. Berlin, Köln, Алматы."),
            "radius": _("Send a place and a radius in km: a city and a number (Berlin 50), or coordinates and a number (52.52 13.40 50)."),
            "origins": _("Send the countries of origin, separated by commas, e.g. Kazakhstan, Kyrgyzstan."),
        }
        await _close(query, prompts[value])
        return
    elif action in ("lang_toggle", "interest_toggle"):
        key, options = ("languages", SPOKEN_LANGUAGES) if action == "lang_toggle" else ("interests", ann_interests())
        if value not in options:
            await query.answer(_("This menu has expired. Please start again."), show_alert=True)
            return
        chosen = set(draft["audience"].get(key, []))
        chosen ^= {value}
        draft["audience"] = {**draft["audience"], key: sorted(chosen)} if chosen else {k: v for k, v in draft["audience"].items() if k != key}
        await _save(state, draft)
        await edit_text(message, toggles_title(key), reply_markup=toggles_keyboard(key, draft["audience"], locale))
    elif action == "aud" and value in ("languages", "interests"):
        await edit_text(message, toggles_title(value), reply_markup=toggles_keyboard(value, draft["audience"], locale))
    elif action == "aud" and value == "everyone":
        draft["audience"] = {}
        await _save(state, draft)
        await _refresh(message, state, session, member, locale)
    elif action == "when":
        builder = InlineKeyboardBuilder()
        for mode, label in (("now", _("Now")), ("at", _("At a date and time")), ("daily", _("Every day")), ("weekly", _("Every week"))):
            builder.button(text=label, callback_data=AnnounceCB(action="when_mode", value=mode))
        builder.button(text=_("◀ Back"), callback_data=AnnounceCB(action="back"))
        builder.adjust(2, 2, 1)
        await edit_text(message, _("When should it go out?"), reply_markup=builder.as_markup())
    elif action == "when_mode" and value == "now":
        draft["when"] = {"mode": "now"}
        await _save(state, draft)
        await _refresh(message, state, session, member, locale)
    elif action == "when_mode" and value in ("at", "daily"):
        await state.set_state(Announce.when_input)
        await state.update_data(ann_input=value)
        zone = (member.timezone if member else None) or "UTC"
        prompt = (_("Send the date and time in your time zone ({zone}), e.g. 25.12.2026 18:30.") if value == "at"
                  else _("Send the time of day in your time zone ({zone}), e.g. 09:00."))
        await _close(query, prompt.format(zone=escape(zone)))
        return
    elif action == "when_mode" and value == "weekly":
        builder = InlineKeyboardBuilder()
        for index in WEEKDAYS:
            builder.button(text=weekday_name(index, locale), callback_data=AnnounceCB(action="weekday", value=str(index)))
        builder.adjust(4)
        await edit_text(message, _("On which day of the week?"), reply_markup=builder.as_markup())
    elif action == "weekday" and (weekday := parse_int(value, WEEKDAY_RANGE)) in WEEKDAYS:
        await state.set_state(Announce.when_input)
        await state.update_data(ann_input="weekly", ann_weekday=weekday)
        zone = (member.timezone if member else None) or "UTC"
        await _close(query, _("Send the time of day in your time zone ({zone}), e.g. 09:00.").format(zone=escape(zone)))
        return
    elif action == "photo":
        await state.set_state(Announce.photo)
        await _close(query, _("Send the photo (its caption is not used; the text is). Texts with a photo may be up to 1024 characters."))
        return
    elif action == "link":
        await state.set_state(Announce.link)
        await _close(query, _("Send the address and the button text, e.g. https://example.org Read more"))
        return
    elif action == "urgent":
        draft["urgent"] = not draft.get("urgent")
        await _save(state, draft)
        await _refresh(message, state, session, member, locale)
    elif action == "preview":
        await query.answer()
        await preview(message, draft)
        await show_menu(message, state, session, member, locale)
        return
    elif action == "confirm":
        await confirm(query, state, session, member, settings, locale, draft, nudge_worker)
        return
    elif action == "discard":
        await state.clear()
        await _close(query, _("The announcement was discarded."))
        return
    elif action == "back":
        await _refresh(message, state, session, member, locale)
    else:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await query.answer()


def ann_interests() -> tuple[str, ...]:
    return INTERESTS


async def _close(query: CallbackQuery, text: str) -> None:
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()


async def _refresh(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, locale: str) -> None:
    text, markup = await render_menu(state, session, member, locale)
    await edit_text(message, text, reply_markup=markup)


def audience_keyboard(audience: dict[str, Any]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for key, label in (("everyone", _("Everyone")), ("countries", _("Countries")), ("cities", _("Cities")),
                       ("radius", _("Within a radius")), ("languages", _("Languages spoken")), ("interests", _("Interests")),
                       ("origins", _("Countries of origin"))):
        mark = TICK if (key == "everyone" and not audience) or audience.get(key) else ""
        builder.button(text=f"{mark}{label}", callback_data=AnnounceCB(action="aud", value=key))
    builder.button(text=_("◀ Back"), callback_data=AnnounceCB(action="back"))
    builder.adjust(1, 2, 2, 2, 1)
    return builder.as_markup()


def toggles_title(key: str) -> str:
    return _("Members who speak any of these languages:") if key == "languages" else _("Members interested in any of these:")


def toggles_keyboard(key: str, audience: dict[str, Any], locale: str) -> InlineKeyboardMarkup:
    chosen = set(audience.get(key, []))
    builder = InlineKeyboardBuilder()
    options = SPOKEN_LANGUAGES if key == "languages" else INTERESTS
    action = "lang_toggle" if key == "languages" else "interest_toggle"
    for code in options:
        label = language_label(code, locale) if key == "languages" else interest_label(code)
        builder.button(text=f"{TICK if code in chosen else ''}{label}"[:64], callback_data=AnnounceCB(action=action, value=code))
    builder.button(text=_("◀ Back"), callback_data=AnnounceCB(action="audience"))
    builder.adjust(*([2] * ((len(options) + 1) // 2)), 1)
    return builder.as_markup()


# --- typed inputs -------------------------------------------------------------------------

@router.message(Announce.audience_input, F.text, NOT_COMMAND)
async def audience_typed(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    locale = i18n.current_locale
    key = (await state.get_data()).get("ann_input")
    parts = [part.strip() for part in (message.text or "").split(",") if part.strip()][:30]
    draft = await _draft(state)
    unknown: list[str] = []
    if key in ("countries", "origins"):
        codes = []
        for part in parts:
            countries = search_countries(part, locale, limit=1)
            if countries:
                codes.append(countries[0].code)
            else:
                unknown.append(part)
        value: Any = sorted(set(codes))
    elif key == "cities":
        ids = []
        for part in parts:
            cities = find_cities(part, limit=1)
            if cities:
                ids.append(cities[0].geoname_id)
            else:
                unknown.append(part)
        value = sorted(set(ids))
    else:
        value = parse_radius(message.text or "")
        if value is None:
            await message.answer(_("I could not read that. Send a city and a number (Berlin 50) or coordinates and a number (52.52 13.40 50)."))
            return
    if unknown or not value:
        await message.answer(_("I could not find: {names}. Please check the spelling and send the list again.").format(
            names=escape(", ".join(unknown) or (message.text or ""))))
        return
    draft["audience"] = {**draft["audience"], key: value}
    await _save(state, draft)
    await show_menu(message, state, session, member, locale)


def parse_radius(text: str) -> dict[str, float] | None:
    """'Berlin 50' or '52.52 13.40 50' → a centre and a radius; None if unreadable or off the globe."""
    words = text.replace(",", " ").split()
    if len(words) < 2:
        return None
    km = parse_decimal(words[-1], 0, RADIUS_MAX_KM, low_inclusive=False)
    if isinstance(km, NumberError):
        return None
    if len(words) == 3:
        lat, lon = parse_decimal(words[0], *COORDINATE_LAT), parse_decimal(words[1], *COORDINATE_LON)
        if not isinstance(lat, NumberError) and not isinstance(lon, NumberError):
            return {"lat": lat, "lon": lon, "km": km}
        if parse_decimal(words[0], -1e9, 1e9) != NumberError.NOT_A_NUMBER:
            return None  # numbers, but off the globe
    cities = find_cities(" ".join(words[:-1]), limit=1)
    if not cities:
        return None
    return {"lat": cities[0].latitude, "lon": cities[0].longitude, "km": km}


@router.message(Announce.when_input, F.text, NOT_COMMAND)
async def when_typed(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    data = await state.get_data()
    zone = (member.timezone if member else None) or "UTC"
    draft = await _draft(state)
    mode = data.get("ann_input")
    if mode == "at":
        try:  # the same reading of typed dates as the event form
            moment = to_utc(parse_local(message.text or "", zone, utcnow()), zone)
        except InvalidEventField:
            moment = None
        if moment is None:
            await message.answer(_("I could not read that date. Please send it like 25.12.2026 18:30."))
            return
        if moment <= utcnow():
            await message.answer(_("That time has already passed. Please choose a time in the future."))
            return
        draft["when"] = {"mode": "at", "at": moment.isoformat()}
    else:
        clock = parse_clock(message.text or "")
        if clock is None:
            await message.answer(_("Please send the time like 09:00."))
            return
        draft["when"] = {"mode": mode, "clock": clock.strftime("%H:%M"), "weekday": data.get("ann_weekday", 0)}
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


@router.message(Announce.photo, F.photo)
async def photo_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    draft = await _draft(state)
    draft["photo"] = message.photo[-1].file_id  # type: ignore[index]
    for text in draft["texts"].values():
        try:
            ann.check_text(text, with_photo=True)
        except ann.AnnouncementError as error:
            await message.answer(error_text(error))
            return
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


@router.message(Announce.link, F.text, NOT_COMMAND)
async def link_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    url, _space, label = (message.text or "").strip().partition(" ")
    if not url.startswith(("https://", "http://")) or "." not in url or len(url) > 300:
        await message.answer(_("That does not look like a web address. Send it as https://… followed by the button text."))
        return
    draft = await _draft(state)
    draft["link_url"], draft["link_text"] = url, (label.strip() or url)[:64]
    await _save(state, draft)
    await show_menu(message, state, session, member, i18n.current_locale)


@router.message(StateFilter(Announce), NOT_COMMAND)
async def unexpected(message: Message) -> None:
    await message.answer(_("Please use the buttons, or send what the last message asks for. /announce starts over."))


# --- preview and confirm ------------------------------------------------------------------

async def preview(message: Message, draft: dict[str, Any]) -> None:
    """Each language's message exactly as members will get it."""
    markup = None
    if draft.get("link_url"):
        markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=draft["link_text"], url=draft["link_url"])]])
    if not draft["texts"]:
        await message.answer(_("The announcement needs a text."))
    for code, text in draft["texts"].items():
        await message.answer(_("Preview — {language}:").format(language=LANGUAGE_NAMES[code]))
        if draft.get("photo"):
            await message.answer_photo(draft["photo"], caption=text, reply_markup=markup)
        else:
            await message.answer(text, reply_markup=markup)


def draft_to_service(draft: dict[str, Any], member: Member | None) -> ann.Draft:
    zone = (member.timezone if member else None) or "UTC"
    when = draft.get("when") or {"mode": "now"}
    send_at, recurrence = None, None
    if when["mode"] == "at":
        send_at = datetime.fromisoformat(when["at"])
    elif when["mode"] == "daily":
        recurrence = f"daily@{when['clock']}@{zone}"
    elif when["mode"] == "weekly":
        recurrence = f"weekly:{when['weekday']}@{when['clock']}@{zone}"
    return ann.Draft(texts=draft["texts"], audience=draft["audience"], send_at=send_at, recurrence=recurrence,
                     urgent=bool(draft.get("urgent")), photo_file_id=draft.get("photo"),
                     link_url=draft.get("link_url"), link_text=draft.get("link_text"))


async def confirm(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None,
                  settings: Settings, locale: str, draft: dict[str, Any],
                  nudge_worker: Callable[[], Awaitable[None]] | None = None) -> None:
    message: Message = query.message  # type: ignore[assignment]
    try:
        announcement = await ann.schedule(session, draft_to_service(draft, member), member.id if member else None)
    except ann.AnnouncementError as error:
        await query.answer()
        await message.answer(error_text(error))
        return
    size = await ann.audience_size(session, announcement.audience)
    replaces = (await state.get_data()).get("ann_replaces")
    if replaces:
        old = await session.get(Announcement, replaces)
        if old is not None:
            await ann.cancel(session, old, member.id if member else None)
    await state.clear()
    await edit_text(message, ngettext("Announcement #{id} confirmed for {count} member.", "Announcement #{id} confirmed for {count} members.", size).format(id=announcement.id, count=format_number(size, locale)),
                    reply_markup=None)
    progress = await message.answer(_("Waiting to be sent: {when}.").format(when=when_text(draft["when"], member, locale)))
    announcement.progress_chat_id, announcement.progress_message_id = progress.chat.id, progress.message_id
    await session.commit()
    await query.answer()
    if nudge_worker is not None:  # a process that runs the worker too starts at once, not at the next tick
        await nudge_worker()


# --- /scheduled ---------------------------------------------------------------------------

@router.message(Command("scheduled"))
async def scheduled(message: Message, session: AsyncSession, member: Member | None, settings: Settings, i18n: I18n) -> None:
    locale = i18n.current_locale
    zone = (member.timezone if member else None) or "UTC"
    upcoming, past = await ann.list_for_secretariat(session)
    lines = [_("<b>Scheduled and recurring</b>")]
    builder = InlineKeyboardBuilder()
    for item in upcoming:
        first = escape(ann.text_for(item.texts, locale)[:60])
        when = format_when(item.send_at, locale, zone, "short") if item.send_at else "—"
        repeat = f" ⟳ {escape(item.recurrence.split('@')[0])}" if item.recurrence else ""
        lines.append(f"#{item.id} · {when}{repeat} · {first}")
        builder.button(text=_("✖ Cancel #{id}").format(id=item.id), callback_data=ScheduledCB(action="cancel", id=item.id))
        builder.button(text=_("✏️ Edit #{id}").format(id=item.id), callback_data=ScheduledCB(action="edit", id=item.id))
    if not upcoming:
        lines.append(_("Nothing is scheduled."))
    lines.append("\n" + _("<b>Sent</b>"))
    for item in past:
        figures = await ann.counts(session, item)
        status = _("sent") if item.status == "done" else pgettext("announcement status", "cancelled")
        lines.append(_("#{id} · {status} · sent {sent}, blocked {blocked}, failed {failed}").format(
            id=item.id, status=status, sent=figures.sent, blocked=figures.blocked, failed=figures.failed))
    if not past:
        lines.append(_("Nothing has been sent yet."))
    builder.adjust(2)
    await message.answer("\n".join(lines), reply_markup=builder.as_markup())


@router.callback_query(ScheduledCB.filter())
async def scheduled_action(query: CallbackQuery, callback_data: ScheduledCB, state: FSMContext, session: AsyncSession,
                           member: Member | None, settings: Settings, i18n: I18n) -> None:
    announcement = await session.get(Announcement, callback_data.id)
    if announcement is None or announcement.status not in ("scheduled", "sending"):
        await query.answer(_("This announcement can no longer be changed."), show_alert=True)
        return
    if callback_data.action == "cancel":
        await ann.cancel(session, announcement, member.id if member else None)
        await query.answer(_("Announcement #{id} cancelled.").format(id=announcement.id), show_alert=True)
        return
    if callback_data.action == "edit":
        draft = _blank()
        draft.update(texts=dict(announcement.texts), audience=dict(announcement.audience), urgent=announcement.urgent,
                     photo=announcement.photo_file_id, link_url=announcement.link_url, link_text=announcement.link_text)
        if announcement.recurrence:
            kind, weekday, clock, _zone = ann.parse_recurrence(announcement.recurrence)
            draft["when"] = {"mode": kind, "clock": clock.strftime("%H:%M"), "weekday": weekday or 0}
        elif announcement.send_at and announcement.send_at > utcnow():
            draft["when"] = {"mode": "at", "at": announcement.send_at.isoformat()}
        await state.clear()
        await state.update_data(ann=draft, ann_replaces=announcement.id, ann_locale=i18n.current_locale)
        await query.answer()
        await show_menu(query.message, state, session, member, i18n.current_locale)  # type: ignore[arg-type]
        return
    await query.answer(_("This menu has expired. Please start again."), show_alert=True)
