"""/atlas: the Diaspora Atlas for everyone, and the secretariat's finer breakdowns."""

from __future__ import annotations

import asyncio
import json

from aiogram import Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import charts
from bot.i18n import escape, format_number
from bot.labels import country_label, interest_label, language_label
from bot.services import atlas as service
from bot.services.roles import is_secretariat
from db.models import Member

router = Router(name="atlas")

LIST = 10  # entries per section of the /atlas text
ROWS, COLUMNS = 12, 8  # of a breakdown
HIDDEN_MARK = "✱"


class AtlasCB(CallbackData, prefix="atlas"):
    """A public view of the atlas: map, countries, months (pictures) or data (the JSON file)."""

    view: str


class AtlasBreakdownCB(CallbackData, prefix="atlasx"):
    """A secretariat breakdown ("menu" for the list of them); checked again on every press."""

    table: str


def min_cell(settings: object) -> int:
    """The suppression threshold from the settings (ATLAS_MIN_CELL), 5 when unset."""
    return max(1, int(getattr(settings, "atlas_min_cell", service.DEFAULT_MIN_CELL)))


def _secretariat_ids(settings: object) -> frozenset[int]:
    return frozenset(getattr(settings, "secretariat_ids", frozenset()))


# --- /atlas ------------------------------------------------------------------------------

@router.message(Command("atlas"))
async def atlas_command(message: Message, session: AsyncSession, member: Member | None, i18n: I18n, settings: object) -> None:
    secretariat = await is_secretariat(session, member, _secretariat_ids(settings))
    atlas = await service.build_atlas(session, min_cell(settings))
    await message.answer(render_atlas(atlas, i18n.current_locale), reply_markup=atlas_keyboard(secretariat))


def atlas_keyboard(secretariat: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🗺 Map"), callback_data=AtlasCB(view="map"))
    builder.button(text=_("📊 Countries"), callback_data=AtlasCB(view="countries"))
    builder.button(text=_("📈 Registrations"), callback_data=AtlasCB(view="months"))
    builder.button(text=_("📄 Open data (JSON)"), callback_data=AtlasCB(view="data"))
    if secretariat:
        builder.button(text=_("🔎 Breakdowns (secretariat)"), callback_data=AtlasBreakdownCB(table="menu"))
    builder.adjust(3, 1, 1)
    return builder.as_markup()


def _count(cell: service.Cell, locale: str, threshold: int) -> str:
    if cell.count is not None:
        return format_number(cell.count, locale)
    if cell.small:
        return _("fewer than {n}").format(n=format_number(threshold, locale))
    return _("hidden")


def _section(title: str, cells: tuple[service.Cell, ...], label, locale: str, threshold: int) -> list[str]:  # type: ignore[no-untyped-def]
    if not cells:
        return []
    lines = ["", f"<b>{title}</b>"]
    lines += [f"• {escape(label(cell))} — {_count(cell, locale, threshold)}" for cell in cells[:LIST]]
    more = len(cells) - LIST
    if more > 0:
        lines.append(ngettext("…and {n} more", "…and {n} more", more).format(n=format_number(more, locale)))
    return lines


def render_atlas(atlas: service.Atlas, locale: str) -> str:
    """The public atlas as one message (HTML)."""
    threshold = atlas.min_cell
    if atlas.is_empty:
        return _("<b>Diaspora Atlas</b>\nNo data yet: the atlas fills in as members register.")
    lines = [_("<b>Diaspora Atlas</b>"),
             _("Counts under {n} are hidden, so no one can be singled out.").format(n=format_number(threshold, locale))]
    country = lambda cell: country_label(cell.key, locale)  # noqa: E731
    lines += _section(_("Members by country"), atlas.countries.cells, country, locale, threshold)
    lines += _section(_("Top cities"), atlas.cities.cells,
                      lambda cell: f"{cell.key} ({country_label(cell.parent, locale)})", locale, threshold)
    lines += _section(_("Countries of origin"), atlas.origins.cells, country, locale, threshold)
    lines += _section(_("Languages spoken"), atlas.languages.cells, lambda cell: language_label(cell.key, locale), locale, threshold)
    lines += _section(_("Interests"), atlas.interests.cells, lambda cell: interest_label(cell.key), locale, threshold)
    places = sorted({c.key for c in atlas.organisations.cells} | {c.key for c in atlas.events.cells},
                    key=lambda code: (-(_value(atlas.organisations, code) + _value(atlas.events, code)), code))
    if places:
        lines += ["", "<b>{}</b>".format(_("Organisations and upcoming events"))]
        for code in places[:LIST]:
            organisations, events = _value(atlas.organisations, code), _value(atlas.events, code)
            lines.append("• {place} — {organisations}, {events}".format(
                place=escape(country_label(code, locale)),
                organisations=ngettext("{n} organisation", "{n} organisations", organisations).format(n=format_number(organisations, locale)),
                events=ngettext("{n} upcoming event", "{n} upcoming events", events).format(n=format_number(events, locale)),
            ))
    recent = atlas.months.cells[-6:]
    lines += _section(_("Registrations per month"), tuple(reversed(recent)), lambda cell: cell.key, locale, threshold)
    return "\n".join(lines)


def _value(table: service.Table, key: str) -> int:
    cell = table.get(key)
    return cell.count or 0 if cell else 0


# --- pictures and open data ------------------------------------------------------------

@router.callback_query(AtlasCB.filter())
async def atlas_view(query: CallbackQuery, callback_data: AtlasCB, session: AsyncSession, i18n: I18n, settings: object) -> None:
    threshold = min_cell(settings)
    locale = i18n.current_locale
    if callback_data.view not in ("map", "countries", "months", "data"):
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    atlas = await service.build_atlas(session, threshold)
    if callback_data.view == "data":
        payload = json.dumps(service.atlas_to_dict(atlas), ensure_ascii=False, indent=2).encode("utf-8")
        await query.message.answer_document(  # type: ignore[union-attr]
            BufferedInputFile(payload, filename="kardes-atlas.json"),
            caption=_("The public atlas as open data (schema kardes-atlas/1)."),
        )
        await query.answer()
        return
    draw = {"map": charts.world_map, "countries": charts.countries_chart, "months": charts.registrations_chart}[callback_data.view]
    table = atlas.months if callback_data.view == "months" else atlas.countries
    await query.answer()
    # Drawing takes a second: off the event loop (the thread inherits the locale's context).
    png = await asyncio.to_thread(draw, table, locale, threshold)
    captions = {"map": _("Where our members live"), "countries": _("Members by country"), "months": _("Registrations per month")}
    await query.message.answer_photo(  # type: ignore[union-attr]
        BufferedInputFile(png, filename=f"kardes-atlas-{callback_data.view}.png"), caption=captions[callback_data.view]
    )


# --- the secretariat's breakdowns ------------------------------------------------------

def breakdown_titles() -> dict[str, str]:
    return {
        "country_origin": _("Country × origin"),
        "city_origin": _("City × origin"),
        "country_language": _("Country × language"),
        "country_interest": _("Country × interest"),
    }


@router.callback_query(AtlasBreakdownCB.filter())
async def atlas_breakdown(query: CallbackQuery, callback_data: AtlasBreakdownCB, session: AsyncSession,
                          member: Member | None, i18n: I18n, settings: object) -> None:
    # Callback data can be forged and roles can be revoked: check the role on every press.
    if not await is_secretariat(session, member, _secretariat_ids(settings)):
        await query.answer(_("This is for the secretariat only."), show_alert=True)
        return
    titles = breakdown_titles()
    if callback_data.table == "menu":
        builder = InlineKeyboardBuilder()
        for name, title in titles.items():
            builder.button(text=title, callback_data=AtlasBreakdownCB(table=name))
        builder.adjust(2)
        await query.message.answer(_("Which breakdown?"), reply_markup=builder.as_markup())  # type: ignore[union-attr]
        await query.answer()
        return
    if callback_data.table not in titles:
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    atlas = await service.build_atlas(session, min_cell(settings), detailed=True)
    text = render_breakdown(atlas.breakdowns[callback_data.table], titles[callback_data.table], i18n.current_locale, atlas.min_cell)
    await query.message.answer(text)  # type: ignore[union-attr]
    await query.answer()


def render_breakdown(table: service.Breakdown, title: str, locale: str, threshold: int) -> str:
    """One breakdown as a message: a line per row, its largest columns."""
    head = f"<b>{escape(title)}</b>"
    if table.withheld:
        return head + "\n" + _("Too few members for this breakdown to be shown safely.")
    if not table.rows:
        return head + "\n" + _("No data yet.")
    _row_dim, column_dim = service.BREAKDOWNS[table.name]
    lines = [head]
    for row in table.rows[:ROWS]:
        name = country_label(row[0], locale) if len(row) == 1 else f"{row[1]} ({country_label(row[0], locale)})"
        parts = []
        for column in table.columns:
            if (row, column) not in table.cells:
                continue
            value = table.cells[(row, column)]
            shown = HIDDEN_MARK if value is None else format_number(value, locale)
            parts.append(f"{escape(_column_label(column_dim, column, locale))} {shown}")
        extra = len(parts) - COLUMNS
        text = " · ".join(parts[:COLUMNS]) + (" · …" if extra > 0 else "")
        lines.append(f"• <b>{escape(name)}</b>: {text}")
    if len(table.rows) > ROWS:
        more = len(table.rows) - ROWS
        lines.append(ngettext("…and {n} more", "…and {n} more", more).format(n=format_number(more, locale)))
    lines.append("")
    lines.append(_("{mark} hidden: fewer than {n}, or hidden so that a smaller number cannot be worked out from the totals.").format(
        mark=HIDDEN_MARK, n=format_number(threshold, locale)))
    return "\n".join(lines)


def _column_label(dimension: str, code: str, locale: str) -> str:
    if code == service.NOT_GIVEN:
        return _("not given")
    if dimension == "languages":
        return language_label(code, locale)
    if dimension == "interests":
        return interest_label(code)
    return country_label(code, locale)
