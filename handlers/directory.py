"""/nearby and /search: organisations and upcoming events around a member, and their cards."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.callbacks import CardCB, MapCB, MenuCB, NearbyCB, SearchCB
from bot.geo import city_name, get_gazetteer
from bot.i18n import escape, format_distance, format_when
from bot.keyboards import TICK, share_location_keyboard
from bot.labels import category_label
from bot.replies import edit_text
from bot.services import directory
from bot.services.org_feed import feed_url
from bot.services import events as ev
from bot.views.cards import event_card, organisation_card  # noqa: F401  (event_card: old home)
from bot.views import not_registered_text
from bot.views.events import event_card_view
from db.models import Event, Member, Organisation

router = Router(name="directory")

PAGE = 5
RADII = (5, 25, 100, 500)
KINDS = {"a": None, "o": directory.KIND_ORGANISATION, "e": directory.KIND_EVENT}


def _expired() -> str:
    return _("This menu has expired. Please start again.")


# --- the list ----------------------------------------------------------------------------

@router.message(Command("nearby"))
async def nearby_command(message: Message, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if member is None or member.latitude is None or member.longitude is None:
        await message.answer(
            _("Share your location with the button below to see what is near you."), reply_markup=share_location_keyboard()
        )
        return
    view = NearbyCB(lat=round(member.latitude * 100), lon=round(member.longitude * 100), r=_radius(member.radius_km))
    text, markup = await render_nearby(session, view, member, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


@router.callback_query(MenuCB.filter(F.action == "nearby"))
async def nearby_from_menu(query: CallbackQuery, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if member is None:
        await query.answer(not_registered_text(), show_alert=True)
        return
    await nearby_command(query.message, session, member, i18n)  # type: ignore[arg-type]
    await query.answer()


@router.message(StateFilter(None), F.location)
async def nearby_here(message: Message, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    """A location shared outside any form: what is around that point (nothing is stored)."""
    location = message.location
    lat, lon = location.latitude, location.longitude  # type: ignore[union-attr]
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        await message.answer(_("Those coordinates are not on Earth. Please share your location again or type your city."))
        return
    radius = _radius(member.radius_km if member else 25)
    view = NearbyCB(lat=round(lat * 100), lon=round(lon * 100), r=radius)
    text, markup = await render_nearby(session, view, member, i18n.current_locale)
    await message.answer(_("Around the point you shared:"), reply_markup=ReplyKeyboardRemove())
    await message.answer(text, reply_markup=markup)


@router.callback_query(NearbyCB.filter())
async def nearby_changed(query: CallbackQuery, callback_data: NearbyCB, session: AsyncSession, member: Member | None, i18n: I18n) -> None:
    if callback_data.r not in RADII or callback_data.k not in KINDS or not 0 <= callback_data.c <= len(directory.ORGANISATION_CATEGORIES):
        await query.answer(_expired(), show_alert=True)
        return
    try:
        text, markup = await render_nearby(session, callback_data, member, i18n.current_locale)
    except ValueError:  # coordinates or a page no list has
        await query.answer(_expired(), show_alert=True)
        return
    await edit_text(query.message, text, reply_markup=markup)
    await query.answer()


def _radius(km: int) -> int:
    return min(RADII, key=lambda choice: abs(choice - km))


async def render_nearby(session: AsyncSession, view: NearbyCB, member: Member | None, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The nearby list for one view, and its buttons."""
    lat, lon = view.lat / 100, view.lon / 100
    city = get_gazetteer().nearest(lat, lon)
    place = escape(city_name(city, locale)) if city else f"{lat:.2f}, {lon:.2f}"
    distance = format_distance(view.r, locale)
    if view.v == "c":
        return _category_picker(view, place, distance)
    category = directory.ORGANISATION_CATEGORIES[view.c - 1] if view.c else None
    page = await directory.nearby(session, lat, lon, view.r, kind=KINDS[view.k], category=category, offset=view.o, limit=PAGE)
    if view.o and not page.items:  # past the end (an old page button): show the last page
        view = _with(view, o=max(0, (page.total - 1) // PAGE * PAGE))
        page = await directory.nearby(session, lat, lon, view.r, kind=KINDS[view.k], category=category, offset=view.o, limit=PAGE)
    builder = InlineKeyboardBuilder()
    rows: list[int] = []
    if page.items:
        lines = [_("<b>Within {distance} of {place}</b>: {count} found").format(distance=distance, place=place, count=page.total)]
        zone = member.timezone if member else None
        for number, item in enumerate(page.items, start=view.o + 1):
            lines.append(_line(number, item, locale, zone))
            builder.button(text=str(number), callback_data=CardCB(k="o" if item.kind == directory.KIND_ORGANISATION else "e", id=item.id))
        rows.append(len(page.items))
    else:
        lines = [_("Nothing found within {distance} of {place}.").format(distance=distance, place=place)]
        wider = directory.next_radius(view.r, RADII)
        if wider is not None:
            builder.button(text=_("Widen to {distance}").format(distance=format_distance(wider, locale)), callback_data=_with(view, r=wider, o=0))
            rows.append(1)
    nav = ([("◀", max(0, view.o - PAGE))] if view.o > 0 else []) + ([("▶", view.o + PAGE)] if page.has_next else [])
    for label, offset in nav:
        builder.button(text=label, callback_data=_with(view, o=offset))
    if nav:
        rows.append(len(nav))
    for radius in RADII:
        builder.button(text=f"{TICK if radius == view.r else ''}{format_distance(radius, locale)}", callback_data=_with(view, r=radius, o=0))
    for key, label in (("a", _("All")), ("o", _("Organisations")), ("e", _("Events"))):
        builder.button(text=f"{TICK if key == view.k else ''}{label}", callback_data=_with(view, k=key, o=0))
    chosen = category_label(directory.ORGANISATION_CATEGORIES[view.c - 1]) if view.c else _("all")
    builder.button(text=_("🏷 Category: {name}").format(name=chosen)[:64], callback_data=_with(view, v="c"))
    builder.adjust(*rows, len(RADII), 3, 1)
    return "\n".join(lines), builder.as_markup()


def _with(view: NearbyCB, **changes: object) -> NearbyCB:
    """The same view with some fields changed."""
    return NearbyCB(**{**view.model_dump(), **changes})


def _category_picker(view: NearbyCB, place: str, distance: str) -> tuple[str, InlineKeyboardMarkup]:
    builder = InlineKeyboardBuilder()
    every = _("All categories")
    builder.button(text=f"{TICK if view.c == 0 else ''}{every}", callback_data=_with(view, c=0, o=0, v="l"))
    for index, code in enumerate(directory.ORGANISATION_CATEGORIES, start=1):
        builder.button(text=f"{TICK if view.c == index else ''}{category_label(code)}"[:64], callback_data=_with(view, c=index, o=0, v="l"))
    builder.adjust(1)
    return _("Which category within {distance} of {place}?").format(distance=distance, place=place), builder.as_markup()


def _line(number: int, item: directory.DirectoryItem, locale: str, zone: str | None) -> str:
    distance = format_distance(item.distance_km, locale)
    if item.kind == directory.KIND_ORGANISATION:
        detail = f"{category_label(item.category)} · {escape(item.city or '')}"
        return f"{number}. 🏛 <b>{escape(item.name)}</b> — {distance}\n    {detail}"
    when = format_when(item.starts_at, locale, zone or item.timezone, "medium") if item.starts_at else ""
    host = f" · {escape(item.organisation_name)}" if item.organisation_name else ""
    return f"{number}. 📅 <b>{escape(item.name)}</b> — {distance}\n    {when}{host}"


# --- cards -------------------------------------------------------------------------------

@router.callback_query(CardCB.filter())
async def open_card(query: CallbackQuery, callback_data: CardCB, session: AsyncSession, member: Member | None, i18n: I18n,
                    settings: Settings) -> None:
    locale = i18n.current_locale
    if callback_data.k == "o":
        organisation = await directory.get_organisation(session, callback_data.id)
        if organisation is None:
            await query.answer(_("This entry is no longer listed."), show_alert=True)
            return
        builder = InlineKeyboardBuilder()
        builder.button(text=_("📍 Show on map"), callback_data=MapCB(k="o", id=organisation.id))
        if url := feed_url(settings.public_base(), organisation.id):
            builder.button(text=_("📅 Subscribe to its events"), url=url)
        builder.adjust(1)
        text, markup = organisation_card(organisation, locale), builder.as_markup()
    else:
        event = await directory.get_event(session, callback_data.id)
        if event is None:
            await query.answer(_("This entry is no longer listed."), show_alert=True)
            return
        card = await ev.event_card(session, event, member)
        text, markup = event_card_view(card, locale, member.timezone if member else None)  # RSVP, calendar, follow, map
    await query.message.answer(text, reply_markup=markup, disable_web_page_preview=True)  # type: ignore[union-attr]
    await query.answer()


@router.callback_query(MapCB.filter())
async def show_on_map(query: CallbackQuery, callback_data: MapCB, session: AsyncSession) -> None:
    target: Organisation | Event | None
    if callback_data.k == "o":
        target = await directory.get_organisation(session, callback_data.id)
        title = target.name if target else ""
        address = ", ".join(p for p in (target.address, target.city) if p) if target else ""
    else:
        target = await directory.get_event(session, callback_data.id)
        title = target.title if target else ""
        address = ", ".join(p for p in (target.venue, target.city) if p) if target else ""
    if target is None or target.latitude is None or target.longitude is None:
        await query.answer(_("This entry is no longer listed."), show_alert=True)
        return
    await query.message.answer_venue(  # type: ignore[union-attr]
        latitude=target.latitude, longitude=target.longitude, title=title[:100] or "—", address=(address or title)[:100]
    )
    await query.answer()


# --- search ------------------------------------------------------------------------------

@router.message(Command("search"))
async def search_command(message: Message, command: CommandObject, session: AsyncSession, state: FSMContext, i18n: I18n) -> None:
    text = " ".join((command.args or "").split())[:100]
    if not text:
        await message.answer(_("Send /search and what you are looking for, for example: /search Türk Kültür Merkezi, or /search Almaty."))
        return
    reply, markup = await render_search(session, text, 0, i18n.current_locale)
    sent = await message.answer(reply, reply_markup=markup)
    # The text does not fit in callback data; page buttons find it here, by their message.
    searches = dict((await state.get_data()).get("searches", {}))
    searches = dict(list(searches.items())[-9:]) | {str(sent.message_id): text}
    await state.update_data(searches=searches)


@router.callback_query(SearchCB.filter())
async def search_page(query: CallbackQuery, callback_data: SearchCB, session: AsyncSession, state: FSMContext, i18n: I18n) -> None:
    searches = (await state.get_data()).get("searches", {})
    text = searches.get(str(query.message.message_id)) if query.message else None
    if text is None or callback_data.o < 0:
        await query.answer(_expired(), show_alert=True)
        return
    reply, markup = await render_search(session, text, callback_data.o, i18n.current_locale)
    await edit_text(query.message, reply, reply_markup=markup)
    await query.answer()


async def render_search(session: AsyncSession, text: str, offset: int, locale: str) -> tuple[str, InlineKeyboardMarkup | None]:
    page = await directory.search(session, text, limit=PAGE, offset=offset)
    if not page.items and offset:
        offset = max(0, (page.total - 1) // PAGE * PAGE)
        page = await directory.search(session, text, limit=PAGE, offset=offset)
    if not page.items:
        return _("Nothing found for “{text}”.").format(text=escape(text)), None
    lines = [_("<b>Results for “{text}”</b>: {count}").format(text=escape(text), count=page.total)]
    builder = InlineKeyboardBuilder()
    for number, organisation in enumerate(page.items, start=offset + 1):
        lines.append(f"{number}. 🏛 <b>{escape(organisation.name)}</b>\n    {category_label(organisation.category)} · {escape(organisation.city or '')}")
        builder.button(text=str(number), callback_data=CardCB(k="o", id=organisation.id))
    rows = [len(page.items)]
    nav = [("◀", offset - PAGE)] if offset > 0 else []
    if page.has_next:
        nav.append(("▶", offset + PAGE))
    for label, target in nav:
        builder.button(text=label, callback_data=SearchCB(o=max(0, target)))
    if nav:
        rows.append(len(nav))
    builder.adjust(*rows)
    return "\n".join(lines), builder.as_markup()
