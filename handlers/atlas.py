"""/atlas: the latest differentially private release of the Diaspora Atlas, and for the
secretariat its breakdowns and the making of a new release (role checked on every press).

No handler here commits: the update's reads end before each reply (bot/transaction.py commits
before every Bot API request), so nothing is held open while a chart is drawn or sent."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any

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
from bot.i18n import escape, format_number, format_when
from bot.labels import country_label, interest_label, language_label
from bot.services import atlas as service
from bot.guards import RequireSecretariat
from bot.services.roles import is_secretariat
from db.models import Member

router = Router(name="atlas")


def _secretariat_only() -> str:
    return _("This is for the secretariat only.")


# The breakdowns and the release: callback data can be forged and roles revoked, so the guard
# re-reads the role on every press (a forged "confirm" from a plain member spends nothing).
secretariat = Router(name="atlas.secretariat")
secretariat.callback_query.middleware(RequireSecretariat(refusal=_secretariat_only))

LIST = 10  # entries per section of the /atlas text
ROWS, COLUMNS = 12, 8  # of a breakdown


class AtlasCB(CallbackData, prefix="atlas"):
    """A public view of the atlas: map, countries, months (pictures) or data (the JSON file)."""

    view: str


class AtlasBreakdownCB(CallbackData, prefix="atlasx"):
    """A secretariat breakdown ("menu" for the list of them); checked again on every press."""

    table: str


class AtlasReleaseCB(CallbackData, prefix="atlasr"):
    """The secretariat's new release: "ask" (show the cost), "confirm" or "cancel"; role checked on each."""

    action: str


def min_cell(settings: object) -> int:
    """The "fewer than N" threshold from the settings (ATLAS_MIN_CELL), 5 when unset."""
    return max(1, int(getattr(settings, "atlas_min_cell", service.DEFAULT_MIN_CELL)))


def _secretariat_ids(settings: object) -> frozenset[int]:
    return frozenset(getattr(settings, "secretariat_ids", frozenset()))


def _eps(value: float, locale: str) -> str:
    return format_number(round(value, 3), locale)


def _eps_is(value: float, locale: str) -> str:
    """"ε = 1": the symbol stays out of the catalogues (it is the same in every language)."""
    return "ε = " + _eps(value, locale)


# --- /atlas ------------------------------------------------------------------------------

@router.message(Command("atlas"))
async def atlas_command(message: Message, session: AsyncSession, member: Member | None, i18n: I18n, settings: object) -> None:
    secretariat = await is_secretariat(session, member, _secretariat_ids(settings))
    document = await service.public_atlas(session)
    zone = member.timezone if member is not None else None
    await message.answer(render_atlas(document, i18n.current_locale, zone), reply_markup=atlas_keyboard(secretariat))


def atlas_keyboard(secretariat: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🗺 Map"), callback_data=AtlasCB(view="map"))
    builder.button(text=_("📊 Countries"), callback_data=AtlasCB(view="countries"))
    builder.button(text=_("📈 Registrations"), callback_data=AtlasCB(view="months"))
    builder.button(text=_("📄 Open data (JSON)"), callback_data=AtlasCB(view="data"))
    if secretariat:
        builder.button(text=_("🔎 Breakdowns (secretariat)"), callback_data=AtlasBreakdownCB(table="menu"))
        builder.button(text=_("🆕 New release (secretariat)"), callback_data=AtlasReleaseCB(action="ask"))
    builder.adjust(3, 1, 1, 1)
    return builder.as_markup()


def count_text(entry: dict[str, Any], locale: str) -> str:
    """One published count as the chat shows it: "37 ± 3", or "fewer than 5"."""
    if entry.get("members") is None:
        return _("fewer than {n}").format(n=format_number(entry["fewer_than"], locale))
    return "{n} ± {m}".format(n=format_number(entry["members"], locale), m=format_number(entry["margin95"], locale))


def _section(title: str, table: dict[str, Any], label, locale: str, listed: bool) -> list[str]:  # type: ignore[no-untyped-def]
    entries = table.get("entries", [])
    if not entries:
        return []
    lines = ["", f"<b>{title}</b>"]
    lines += [f"• {escape(label(entry))} — {count_text(entry, locale)}" for entry in entries[:LIST]]
    more = len(entries) - LIST
    if more > 0:
        lines.append(ngettext("…and {n} more", "…and {n} more", more).format(n=format_number(more, locale)))
    if listed:
        lines.append(_("Not listed: fewer than {n} each.").format(n=format_number(table["fewer_than"], locale)))
    return lines


def render_atlas(document: dict[str, Any], locale: str, zone: str | None = None) -> str:
    """The public atlas (the latest release) as one message (HTML); the release time in ``zone``."""
    if document.get("release") is None or service.is_empty(document):
        return _("<b>Diaspora Atlas</b>\nNo data yet: the atlas fills in as members register.")
    privacy = document["privacy"]
    when = datetime.fromisoformat(document["generated_at"].replace("Z", "+00:00"))
    lines = [
        _("<b>Diaspora Atlas</b>"),
        _("Release {n} of {date}.").format(n=format_number(document["release"], locale),
                                            date=format_when(when, locale, zone or "UTC", "medium")),
        _("Every count has random noise added (differential privacy, {epsilon} for this release): whether or not "
          "any one person is a member, the chance of any result changes by at most a factor of {bound}. "
          "The price is fuzziness: a count is within ± the number shown of the truth 95 times in 100, so small "
          "communities stay hidden in the noise.").format(epsilon=_eps_is(privacy["epsilon"], locale), bound="e^ε"),
    ]
    country = lambda e: country_label(e["country"], locale)  # noqa: E731
    lines += _section(_("Members by country"), document["members_by_country"], country, locale, True)
    lines += _section(_("Top cities"), document["top_cities"],
                      lambda e: f"{e['city']} ({country_label(e['country'], locale)})", locale, True)
    lines += _section(_("Countries of origin"), document["members_by_origin"], country, locale, True)
    lines += _section(_("Languages spoken"), document["members_by_language"], lambda e: language_label(e["language"], locale),
                      locale, False)
    lines += _section(_("Interests"), document["members_by_interest"], lambda e: interest_label(e["interest"]), locale, False)
    organisations = {e["country"]: e["organisations"] for e in document.get("organisations_by_country", [])}
    events = {e["country"]: e["events"] for e in document.get("upcoming_events_by_country", [])}
    places = sorted(set(organisations) | set(events), key=lambda c: (-(organisations.get(c, 0) + events.get(c, 0)), c))
    if places:
        lines += ["", "<b>{}</b>".format(_("Organisations and upcoming events"))]
        for code in places[:LIST]:
            o, e = organisations.get(code, 0), events.get(code, 0)
            lines.append("• {place} — {organisations}, {events}".format(
                place=escape(country_label(code, locale)),
                organisations=ngettext("{n} organisation", "{n} organisations", o).format(n=format_number(o, locale)),
                events=ngettext("{n} upcoming event", "{n} upcoming events", e).format(n=format_number(e, locale)),
            ))
    months = dict(document["registrations_by_month"])
    months["entries"] = list(reversed(months.get("entries", [])[-6:]))
    lines += _section(_("Registrations per month"), months, lambda e: e["month"], locale, False)
    return "\n".join(lines)


# --- pictures and open data ------------------------------------------------------------

@router.callback_query(AtlasCB.filter())
async def atlas_view(query: CallbackQuery, callback_data: AtlasCB, session: AsyncSession, i18n: I18n) -> None:
    locale = i18n.current_locale
    if callback_data.view not in ("map", "countries", "months", "data"):
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    document = await service.public_atlas(session)
    if callback_data.view == "data":
        payload = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
        await query.message.answer_document(  # type: ignore[union-attr]
            BufferedInputFile(payload, filename="kardes-atlas.json"),
            caption=_("The latest atlas release as open data (schema kardes-atlas/2)."),
        )
        await query.answer()
        return
    draw = {"map": charts.world_map, "countries": charts.countries_chart, "months": charts.registrations_chart}[callback_data.view]
    table = document["registrations_by_month"] if callback_data.view == "months" else document["members_by_country"]
    await query.answer()
    # Drawing takes a second: off the event loop (the thread inherits the locale's context).
    png = await asyncio.to_thread(draw, table, locale)
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


@secretariat.callback_query(AtlasBreakdownCB.filter())
async def atlas_breakdown(query: CallbackQuery, callback_data: AtlasBreakdownCB, session: AsyncSession,
                          member: Member | None, i18n: I18n, settings: object) -> None:
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
    tables = await service.breakdowns(session)
    text = render_breakdown(callback_data.table, tables.get(callback_data.table), titles[callback_data.table], i18n.current_locale)
    await query.message.answer(text)  # type: ignore[union-attr]
    await query.answer()


def render_breakdown(name: str, table: dict[str, Any] | None, title: str, locale: str) -> str:
    """One breakdown of the latest release: a line per row, its largest columns."""
    head = f"<b>{escape(title)}</b>"
    if not table or not table.get("cells"):
        return head + "\n" + _("No data yet.")
    rows: dict[tuple[str, ...], list[tuple[str, int]]] = {}
    for *key, column, value in table["cells"]:
        rows.setdefault(tuple(key), []).append((column, value))
    ordered = sorted(rows, key=lambda r: (-sum(v for _c, v in rows[r]), r))
    lines = [head]
    for row in ordered[:ROWS]:
        label = country_label(row[0], locale) if len(row) == 1 else f"{row[1]} ({country_label(row[0], locale)})"
        parts = [f"{escape(_column_label(name, column, locale))} {format_number(value, locale)}"
                 for column, value in sorted(rows[row], key=lambda cv: (-cv[1], cv[0]))]
        text = " · ".join(parts[:COLUMNS]) + (" · …" if len(parts) > COLUMNS else "")
        lines.append(f"• <b>{escape(label)}</b>: {text}")
    if len(ordered) > ROWS:
        more = len(ordered) - ROWS
        lines.append(ngettext("…and {n} more", "…and {n} more", more).format(n=format_number(more, locale)))
    lines.append("")
    lines.append(_("Noisy counts, each within ± {m} of the truth 95 times in 100 ({epsilon}); cells under {n} are not listed.").format(
        m=format_number(table["margin95"], locale), epsilon=_eps_is(table["epsilon"], locale), n=format_number(table["fewer_than"], locale)))
    return "\n".join(lines)


def _column_label(name: str, code: str, locale: str) -> str:
    if code == service.OTHER:
        return _("other")
    if name == "country_language":
        return language_label(code, locale)
    if name == "country_interest":
        return interest_label(code)
    return country_label(code, locale)


# --- a new release (secretariat) -------------------------------------------------------

def _budget_line(state: service.Budget, locale: str) -> str:
    releases = ngettext("{n} release", "{n} releases", state.releases).format(n=format_number(state.releases, locale))
    return _("Spent so far: {spent} of the lifetime budget {lifetime} ({releases}).").format(
        spent=_eps_is(state.spent, locale), lifetime=_eps(state.lifetime, locale), releases=releases)


@secretariat.callback_query(AtlasReleaseCB.filter())
async def atlas_release(query: CallbackQuery, callback_data: AtlasReleaseCB, session: AsyncSession,
                        member: Member | None, i18n: I18n, settings: Any) -> None:
    locale = i18n.current_locale
    epsilon, lifetime = float(settings.atlas_epsilon), float(settings.atlas_lifetime_epsilon)
    state = await service.budget(session, epsilon, lifetime)
    if callback_data.action == "cancel":
        await query.message.edit_text(_("No release was made."), reply_markup=None)  # type: ignore[union-attr]
        await query.answer()
        return
    if not state.allows_release:
        await query.answer()
        await query.message.answer(budget_spent_text(state, locale))  # type: ignore[union-attr]
        return
    if callback_data.action == "ask":
        builder = InlineKeyboardBuilder()
        builder.button(text=_("✅ Make the release"), callback_data=AtlasReleaseCB(action="confirm"))
        builder.button(text=_("✖️ Cancel"), callback_data=AtlasReleaseCB(action="cancel"))
        text = "\n".join([
            _("<b>New Atlas release</b>"),
            _("It spends {epsilon} of the privacy budget, for good.").format(epsilon=_eps_is(epsilon, locale)),
            _budget_line(state, locale),
            _("Everyone will see the new numbers in /atlas and the open data."),
        ])
        await query.message.answer(text, reply_markup=builder.as_markup())  # type: ignore[union-attr]
        await query.answer()
        return
    if callback_data.action != "confirm":
        await query.answer(_("This menu has expired. Please start again."), show_alert=True)
        return
    try:
        plan = await service.plan_release(session, epsilon=epsilon, lifetime=lifetime, min_cell=min_cell(settings))
    except service.BudgetSpent as refused:  # spent since the button was shown
        await query.answer()
        await query.message.answer(budget_spent_text(refused.budget, locale))  # type: ignore[union-attr]
        return
    # These two replies commit the reads (bot/transaction.py): no transaction is open while the noise is drawn.
    await query.answer(_("Making the release…"))
    await query.message.edit_reply_markup(reply_markup=None)  # type: ignore[union-attr]
    try:
        release = await service.publish_release(session, plan, trigger="secretariat", requested_by=member.id if member else None)
    except service.BudgetSpent as refused:
        await query.message.answer(budget_spent_text(refused.budget, locale))  # type: ignore[union-attr]
        return
    except service.ReleaseBusy:
        await query.message.answer(_("Another release was being made at the same moment. Please try again."))  # type: ignore[union-attr]
        return
    state = await service.budget(session, epsilon, lifetime)
    document = dict(release.public)
    await query.message.answer(  # type: ignore[union-attr]
        _("Release {n} is published.").format(n=format_number(release.id, locale)) + "\n" + _budget_line(state, locale))
    await query.message.answer(render_atlas(document, locale, member.timezone if member else None))  # type: ignore[union-attr]


def budget_spent_text(state: service.Budget, locale: str) -> str:
    return _("Sorry, no new release: the lifetime privacy budget is spent ({spent} of {lifetime}; a release needs {eps}). "
             "The latest release stays published.").format(
        spent=_eps_is(state.spent, locale), lifetime=_eps(state.lifetime, locale), eps=_eps(state.per_release, locale))
