"""/start for a newcomer: language → privacy notice → name → place → origin → languages →
interests → notifications → summary. The same steps edit a registered member's profile: the
profile's edit buttons, /settings and the main menu's "Notifications" open one step in editing
mode, and its answer is saved at once (`_save_if_editing`)."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import CityCB, ConsentCB, DoneCB, LanguageCB, MenuCB, NotifyCB, OriginCB, ProfileCB, ToggleCB
from bot.commands import set_chat_menu
from bot.config import LOCALES
from bot.deeplinks import parse_payload
from bot.filters import CurrentMenu
from bot.geo import search_countries
from bot.i18n import escape
from bot.keyboards import (
    cities_keyboard,
    city_label,
    consent_keyboard,
    language_keyboard,
    notifications_keyboard,
    origin_keyboard,
    share_location_keyboard,
    toggles_keyboard,
)
from bot.labels import country_label, interest_label, language_label, place_label
from bot.open_card import send_card
from bot.replies import edit_markup, edit_text
from bot.services import registration as reg
from bot.states import Registration
from bot.views import main_menu_view, not_registered_text, profile_view
from db.models import Member
from db.types import utcnow

router = Router(name="registration")

NOT_COMMAND = ~F.text.startswith("/")  # commands keep working in the middle of a form
BUTTON_STEPS = (
    Registration.language, Registration.consent, Registration.origin,
    Registration.languages, Registration.interests, Registration.notifications,
)
EDITABLE = ("name", "place", "origin", "languages", "interests", "notifications")  # the profile's fields asked here


async def _menu(message: Message, state: FSMContext, text: str, markup: Any = None) -> Message:
    """Send the next step's menu and remember it, so buttons of older menus are refused."""
    sent = await message.answer(text, reply_markup=markup)
    await state.update_data(menu_id=sent.message_id)
    return sent


async def _close_menu(query: CallbackQuery, text: str) -> None:
    """Turn the answered menu into a line saying what was chosen."""
    await edit_text(query.message, text, reply_markup=None)
    await query.answer()


# --- entry -------------------------------------------------------------------------------

async def open_card_link(message: Message, session: AsyncSession, member: Member, target: tuple[str, int], locale: str) -> bool:
    """The card a deep link points to; False (after saying so) when it is no longer listed."""
    if await send_card(message, session, member, target[0], target[1], locale):
        return True
    await message.answer(_("This entry is no longer listed."))
    return False


@router.message(CommandStart())
async def start(message: Message, state: FSMContext, member: Member | None, i18n: I18n, command: CommandObject,
                session: AsyncSession) -> None:
    target = parse_payload(command.args)  # a card's deep link (t.me/<bot>?start=e_42); anything else is ignored
    if member is not None and member.registered_at is not None:
        await state.clear()
        if target is None or not await open_card_link(message, session, member, target, i18n.current_locale):
            text, markup = main_menu_view(member)
            await message.answer(text, reply_markup=markup)
        return
    if target is not None:  # shown once the newcomer is registered
        await state.update_data(open_after=list(target))
    locale = i18n.current_locale
    if await resume(message, state, locale):
        return
    await state.set_state(Registration.language)
    await state.update_data(locale=locale, draft=reg.default_draft())
    await _menu(
        message, state,
        _("Hello! I am Kardeş, the bot of the Turkic-speaking diaspora. "
          "I will speak English with you. Tap your language to continue."),
        language_keyboard(locale),
    )


async def resume(message: Message, state: FSMContext, locale: str) -> bool:
    """/start in the middle of the questionnaire asks the current question again."""
    current = await state.get_state()
    if current in (Registration.language.state, None) or not current.startswith("Registration:"):
        return False
    if current == Registration.consent.state:
        await _menu(message, state, privacy_notice(), consent_keyboard())
    elif current == Registration.name.state:
        await ask_name(message, state)
    elif current == Registration.place.state:
        await ask_place(message, state)
    elif current in (Registration.origin.state, Registration.origin_search.state):
        await ask_origin(message, state, locale)
    elif current == Registration.languages.state:
        await ask_toggles(message, state, "languages", locale)
    elif current == Registration.interests.state:
        await ask_toggles(message, state, "interests", locale)
    else:
        await ask_notifications(message, state)
    return True


@router.callback_query(Registration.language, LanguageCB.filter(), CurrentMenu())
async def language_chosen(query: CallbackQuery, callback_data: LanguageCB, state: FSMContext, i18n: I18n) -> None:
    if callback_data.code not in LOCALES:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await state.update_data(locale=callback_data.code)
    with i18n.use_locale(callback_data.code):
        await _close_menu(query, _("Language set: English. Send /help to see what I can do."))
        await state.set_state(Registration.consent)
        await _menu(query.message, state, privacy_notice(), consent_keyboard())  # type: ignore[arg-type]


def privacy_notice() -> str:
    return _(
        "<b>Privacy notice</b> (version {version})\n\n"
        "To find organisations, events and news for you, we keep: the name you give us, "
        "your city and, if you share a location, coordinates rounded to about 1 km, "
        "your interests and your notification settings.\n\n"
        "Your country of origin and the languages you speak are sensitive data: they can reveal ethnic origin. "
        "They are optional. We ask for them separately, and keep them only if you answer; "
        "“Prefer not to say” costs you no feature.\n\n"
        "The diaspora agencies never see who you are; the Atlas publishes only counts with random noise added "
        "(differential privacy). /mydata sends you everything we keep; /delete erases it at any time.\n\nDo you accept?"
    ).format(version=reg.PRIVACY_VERSION)


def sensitive_note() -> str:
    return _("Optional, sensitive data: by choosing you consent to us keeping it (you can remove it in /profile). "
             "Choose “Prefer not to say” to skip.")


@router.callback_query(Registration.consent, ConsentCB.filter(), CurrentMenu())
async def consent_given(query: CallbackQuery, callback_data: ConsentCB, state: FSMContext) -> None:
    if not callback_data.accept:
        await state.clear()  # nothing about them is kept, not even the language choice
        await _close_menu(query, _("You declined, so nothing about you has been stored. "
                                   "Send /start whenever you want to come back."))
        return
    await state.update_data(consent_at=utcnow().isoformat(), consent_version=reg.PRIVACY_VERSION)
    await _close_menu(query, _("Thank you! You accepted the privacy notice."))
    await ask_name(query.message, state)  # type: ignore[arg-type]


# --- name --------------------------------------------------------------------------------

async def ask_name(message: Message, state: FSMContext) -> None:
    await state.set_state(Registration.name)
    await _menu(message, state, _("What should we call you? Send a name of up to 64 characters."))


@router.message(Registration.name, F.text, NOT_COMMAND)
async def name_given(message: Message, state: FSMContext, session: AsyncSession, member: Member | None) -> None:
    try:
        name = reg.clean_name(message.text)
    except reg.InvalidName as error:
        reasons = {
            "empty": _("The name cannot be empty. Please send your name."),
            "too_long": _("That name is too long: at most 64 characters, please."),
            "control": _("The name contains invisible control characters. Please type it again."),
        }
        await message.answer(reasons[error.reason])
        return
    if await _save_if_editing(message, state, session, member, {"name": name}):
        return
    await _update_draft(state, name=name)
    await message.answer(_("Nice to meet you, {name}!").format(name=escape(name)))
    await ask_place(message, state)


# --- place -------------------------------------------------------------------------------

async def ask_place(message: Message, state: FSMContext) -> None:
    await state.set_state(Registration.place)
    await _menu(
        message, state,
        _("Where do you live? Type your city (in any language or script), or share your location with the button below."),
        share_location_keyboard(),
    )


@router.message(Registration.place, F.location)
async def place_shared(message: Message, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    location = message.location
    try:
        place = reg.place_from_location(location.latitude, location.longitude)  # type: ignore[union-attr]
    except ValueError:
        await message.answer(_("Those coordinates are not on Earth. Please share your location again or type your city."))
        return
    if place is None:
        await message.answer(_("I found no city near that point. Please type the name of your city."))
        return
    await _place_chosen(message, state, session, member, place, i18n.current_locale)


@router.message(Registration.place, F.text, NOT_COMMAND)
async def place_typed(message: Message, state: FSMContext, i18n: I18n) -> None:
    cities = reg.find_cities(message.text or "")
    if not cities:
        await message.answer(
            _("I could not find “{text}”. Check the spelling, try the name in another language, or share your location.")
            .format(text=escape((message.text or "")[:100]))
        )
        return
    await state.update_data(city_ids=[city.geoname_id for city in cities])
    await _menu(message, state, _("Which one is yours?"), cities_keyboard(cities, i18n.current_locale))


@router.callback_query(Registration.place, CityCB.filter(), CurrentMenu())
async def city_chosen(
    query: CallbackQuery, callback_data: CityCB, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n
) -> None:
    offered = (await state.get_data()).get("city_ids", [])
    city = reg.get_gazetteer().get(callback_data.id) if callback_data.id in offered else None
    if city is None:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await _close_menu(query, "📍 " + escape(city_label(city, i18n.current_locale)))
    await _place_chosen(query.message, state, session, member, reg.place_from_city(city), i18n.current_locale)  # type: ignore[arg-type]


async def _place_chosen(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None, place: reg.Place, locale: str
) -> None:
    await message.answer(
        _("Got it: {city}, {country}.").format(city=escape(place_label(place.city_id, place.city_name, locale)), country=escape(country_label(place.country_code, locale))),
        reply_markup=ReplyKeyboardRemove(),
    )
    if await _save_if_editing(message, state, session, member, {"place": place.as_dict()}):
        return
    await _update_draft(state, place=place.as_dict())
    await ask_origin(message, state, locale)


# --- origin ------------------------------------------------------------------------------

async def ask_origin(message: Message, state: FSMContext, locale: str) -> None:
    await state.set_state(Registration.origin)
    await state.update_data(origin_codes=list(reg.ORIGIN_COUNTRIES))
    markup = origin_keyboard(locale)
    markup.inline_keyboard.append([InlineKeyboardButton(text=_("Prefer not to say"), callback_data=OriginCB(code="none").pack())])
    await _menu(message, state, _("Which country do you or your family come from?") + "\n" + sensitive_note(), markup)


@router.callback_query(StateFilter(Registration.origin, Registration.origin_search), OriginCB.filter(), CurrentMenu())
async def origin_chosen(
    query: CallbackQuery, callback_data: OriginCB, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n
) -> None:
    if callback_data.code == "other":
        await state.set_state(Registration.origin_search)
        await _close_menu(query, _("Type the name of the country."))
        return
    declined = callback_data.code == "none"  # "prefer not to say": nothing is kept
    if not declined and callback_data.code not in (await state.get_data()).get("origin_codes", []):
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    locale = i18n.current_locale
    origin = None if declined else callback_data.code
    chosen = _("Prefer not to say") if declined else escape(country_label(callback_data.code, locale))
    await _close_menu(query, _("Origin: {country}").format(country=chosen))
    if await _save_if_editing(query.message, state, session, member, {"origin": origin}):  # type: ignore[arg-type]
        return
    await _update_draft(state, origin=origin)
    await ask_toggles(query.message, state, "languages", locale)  # type: ignore[arg-type]


@router.message(Registration.origin_search, F.text, NOT_COMMAND)
async def origin_typed(message: Message, state: FSMContext, i18n: I18n) -> None:
    locale = i18n.current_locale
    codes = search_countries(message.text or "", locale, limit=5)
    if not codes:
        await message.answer(_("I could not find that country. Please try another spelling."))
        return
    await state.update_data(origin_codes=list(codes))
    await _menu(message, state, _("Which one is it?"), origin_keyboard(locale, codes, other=False))


# --- languages and interests -------------------------------------------------------------

async def ask_toggles(message: Message, state: FSMContext, field: str, locale: str) -> None:
    await state.set_state(Registration.languages if field == "languages" else Registration.interests)
    draft = (await state.get_data()).get("draft", {})
    text = (
        _("Which languages do you speak? Tap all that apply, then Done.") + "\n"
        + _("Optional, sensitive data: tap Done with nothing chosen if you prefer not to say.")
        if field == "languages"
        else _("What are you interested in? Tap all that apply, then Done.")
    )
    await _menu(message, state, text, toggles_keyboard(field, draft.get(field, []), locale))


@router.callback_query(StateFilter(Registration.languages, Registration.interests), ToggleCB.filter(), CurrentMenu())
async def toggle(query: CallbackQuery, callback_data: ToggleCB, state: FSMContext, i18n: I18n) -> None:
    field = "languages" if await state.get_state() == Registration.languages.state else "interests"
    options = reg.SPOKEN_LANGUAGES if field == "languages" else reg.INTERESTS
    if callback_data.field != field or callback_data.value not in options:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    chosen = list((await state.get_data()).get("draft", {}).get(field, []))
    if callback_data.value in chosen:
        chosen.remove(callback_data.value)
    else:
        chosen.append(callback_data.value)
    await _update_draft(state, **{field: chosen})
    await edit_markup(query.message, reply_markup=toggles_keyboard(field, chosen, i18n.current_locale))
    await query.answer()


@router.callback_query(StateFilter(Registration.languages, Registration.interests), DoneCB.filter(), CurrentMenu())
async def toggles_done(
    query: CallbackQuery, callback_data: DoneCB, state: FSMContext, session: AsyncSession, member: Member | None, i18n: I18n
) -> None:
    field = "languages" if await state.get_state() == Registration.languages.state else "interests"
    chosen = (await state.get_data()).get("draft", {}).get(field, [])
    locale = i18n.current_locale
    labels = [language_label(code, locale) if field == "languages" else interest_label(code) for code in chosen]
    nothing = _("Prefer not to say") if field == "languages" else _("nothing chosen")
    await _close_menu(query, "✅ " + escape(", ".join(labels) or nothing))
    if await _save_if_editing(query.message, state, session, member, {field: chosen}):  # type: ignore[arg-type]
        return
    if field == "languages":
        await ask_toggles(query.message, state, "interests", locale)  # type: ignore[arg-type]
    else:
        await ask_notifications(query.message, state)  # type: ignore[arg-type]


# --- notifications -----------------------------------------------------------------------

def notifications_text() -> str:
    return _(
        "<b>Notifications</b>\n"
        "Announcements are news from the diaspora agencies. “New events near me” tells you when an event "
        "is published within your radius. During quiet hours (your local time) messages wait until morning."
    )


async def ask_notifications(message: Message, state: FSMContext) -> None:
    await state.set_state(Registration.notifications)
    draft = (await state.get_data()).get("draft", reg.default_draft())
    await _menu(message, state, notifications_text(), notifications_keyboard({**reg.default_draft(), **draft}))


@router.callback_query(Registration.notifications, NotifyCB.filter(), CurrentMenu())
async def notifications_changed(
    query: CallbackQuery, callback_data: NotifyCB, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    data = await state.get_data()
    draft = {**reg.default_draft(), **data.get("draft", {})}
    action, value = callback_data.action, callback_data.value
    if action == "ann":
        draft["notify_announcements"] = not draft["notify_announcements"]
    elif action == "events":
        draft["notify_events"] = not draft["notify_events"]
    elif action == "digest":
        draft["digest_weekly"] = not draft.get("digest_weekly", False)
    elif action == "radius" and value in reg.RADII_KM:
        draft["radius_km"] = value
    elif action == "quiet" and 0 <= value < len(reg.QUIET_PRESETS):
        preset = reg.QUIET_PRESETS[value]
        draft["quiet"] = list(preset) if preset else None
    elif action == "done":
        await _finish(query, state, session, member, draft)
        return
    else:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    await _update_draft(state, **draft)
    await edit_markup(query.message, reply_markup=notifications_keyboard(draft))
    await query.answer()


async def _finish(query: CallbackQuery, state: FSMContext, session: AsyncSession, member: Member | None, draft: dict[str, Any]) -> None:
    await _close_menu(query, _("Notification settings saved."))
    message: Message = query.message  # type: ignore[assignment]
    if await _save_if_editing(message, state, session, member, draft):
        return
    data = await state.get_data()
    target = parse_payload("_".join(map(str, data.get("open_after") or ())))
    answers = {**data.get("draft", {}), **draft, "consent_at": data.get("consent_at"), "consent_version": data.get("consent_version")}
    member = await reg.complete_registration(session, query.from_user.id, data.get("locale", "en"), answers)
    await state.clear()
    # Each Bot API call commits the update first (bot/transaction.py): the member is stored before this reply.
    await message.answer(_("You are registered. Welcome to the community! Here is what we keep about you:"))
    text, markup = profile_view(member)
    await message.answer(text, reply_markup=markup)
    await set_chat_menu(query.bot, I18n.get_current(), query.from_user.id, member.locale or "en")  # type: ignore[arg-type]
    if target is not None:  # they came through a card's link: now the card
        await open_card_link(message, session, member, target, member.locale or "en")


# --- editing the profile -----------------------------------------------------------------

@router.message(Command("settings"))
async def settings_command(message: Message, member: Member | None, state: FSMContext, i18n: I18n) -> None:
    if member is None:
        await message.answer(not_registered_text())
        return
    await start_editing(message, state, member, "notifications", i18n.current_locale)


@router.callback_query(MenuCB.filter(F.action == "settings"))
async def settings_from_menu(query: CallbackQuery, member: Member | None, state: FSMContext, i18n: I18n) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await start_editing(query.message, state, member, "notifications", i18n.current_locale)  # type: ignore[arg-type]
    await query.answer()


@router.callback_query(ProfileCB.filter(F.field.in_(EDITABLE)))
async def edit_field(query: CallbackQuery, callback_data: ProfileCB, member: Member | None, state: FSMContext, i18n: I18n) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await query.answer()
    await start_editing(query.message, state, member, callback_data.field, i18n.current_locale)  # type: ignore[arg-type]


async def start_editing(message: Message, state: FSMContext, member: Member, field: str, locale: str) -> None:
    """Open one questionnaire step, pre-filled from the profile, in editing mode."""
    draft = {
        "languages": list(member.languages or []),
        "interests": list(member.interests or []),
        "notify_announcements": member.notify_announcements,
        "notify_events": member.notify_events,
        "digest_weekly": member.digest_weekly,
        "radius_km": member.radius_km,
        "quiet": [member.quiet_start, member.quiet_end] if member.quiet_start and member.quiet_end else None,
    }
    await state.clear()
    await state.update_data(editing=True, draft=draft)
    if field == "name":
        await ask_name(message, state)
    elif field == "place":
        await ask_place(message, state)
    elif field == "origin":
        await ask_origin(message, state, locale)
    elif field in ("languages", "interests"):
        await ask_toggles(message, state, field, locale)
    else:
        await ask_notifications(message, state)


# --- shared ------------------------------------------------------------------------------

async def _update_draft(state: FSMContext, **changes: Any) -> None:
    data = await state.get_data()
    await state.update_data(draft={**data.get("draft", {}), **changes})


async def _save_if_editing(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None, changes: dict[str, Any]
) -> bool:
    """In profile editing, save the one changed field and show the profile again."""
    if not (await state.get_data()).get("editing") or member is None:
        return False
    await reg.update_profile(session, member, changes)
    await state.clear()
    await message.answer(_("Saved."))
    text, markup = profile_view(member)
    await message.answer(text, reply_markup=markup)
    return True


@router.message(StateFilter(*BUTTON_STEPS), NOT_COMMAND)
async def expected_a_button(message: Message) -> None:
    await message.answer(_("Please choose with the buttons above."))


@router.message(StateFilter(Registration.name, Registration.place, Registration.origin_search), NOT_COMMAND)
async def expected_text(message: Message) -> None:
    await message.answer(_("Please send this as a text message."))
