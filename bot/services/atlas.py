"""The Diaspora Atlas: who lives where, in counts that never single anyone out.

What is counted
    Members: active members who finished registering (``registered_at`` set). Tables by country
    of residence, by top city, by origin country, by language spoken and by interest (a member
    with three languages counts once in each), and registrations per calendar month (UTC).
    Organisations (active) and upcoming approved events per country: these are public records
    already listed by /nearby and /search, so they are published exactly.

Small-cell suppression (``min_cell``, default 5)
    1. Primary suppression: every member count from 1 to ``min_cell - 1`` is hidden. Zero cells
       are not listed at all. A hidden cell in a public table reads "fewer than 5"; in the open
       data it is ``"members": null, "suppressed": true``.
    2. No totals that include hidden cells. A one-dimensional table never publishes its total:
       it publishes ``shown_total`` (the sum of the cells it shows, which anyone can add up) and
       ``hidden_cells`` (how many cells are hidden), and the atlas never states how many
       members there are in all. So nothing in one dimension can be subtracted from a total to
       recover a hidden cell.
    3. Linked tables. Members by country, by origin and by month each count every member once,
       so they share one (unpublished) total: a table with no hidden cell would reveal it, and
       another table with a single small cell could then be solved. A language's or interest's
       count is a floor under that total (nobody counts twice in one cell), so a language
       everybody speaks reveals it too. We protect them together
       (:func:`protect_linked`): a reader is assumed to know that small cells hold 1..N-1 and
       that every other hidden cell holds N or more; from each table they bound the common total,
       and from those bounds each small cell. While any small cell is pinned to one value, the
       largest language/interest cell is hidden if the floor is what pins it, else the
       smallest shown cell of the most revealing table is hidden too (``"reason":
       "protects_small"``; the bot shows it as "hidden", never as "fewer than N"); when every
       cell is hidden and the bounds still meet (tiny populations), the most revealing table is
       withheld whole (an empty list, ``"withheld": true`` in the summary).
    4. Where a line's total *is* published, complementary suppression within the line. This
       happens (a) for top cities: each country's count is published, and its cities (plus its
       members with no city) add up to it; and (b) for the secretariat's breakdowns (country ×
       origin, city × origin, country × language, country × interest), whose rows and columns
       are, or could be, published one-dimensional cells (for languages and interests only the
       columns: a member counts once per language, so a country's row adds up to no published
       number). We assume the worst: every such line whose total is N or more is known. The
       reader solves the table by interval propagation (:func:`pinned_cells`) — each hidden
       cell is at least 1, and within each known line it lies between the line's remainder
       minus the others' upper bounds and the remainder minus the others' lower bounds, repeated
       until nothing moves. While any hidden cell under N is pinned to one value, one more shown
       cell is hidden (on a line through a pinned cell if possible: the one that leaves the
       fewest pinned, then the smallest); if none is left, the whole breakdown is withheld.
       A breakdown marks every hidden cell the same way (primary or complementary), since
       telling them apart would give the reader bounds; hidden top cities are simply not listed.
    ``tests/test_atlas.py`` checks all of this over 200 random populations with an attacker
    written separately from this module.
    Limit: the linked tables assume everyone gave a country, an origin and was registered
    (registration requires all three). Do not publish the exact member total anywhere.

Open data schema ``kardes-atlas/1`` (:func:`atlas_to_dict`, :func:`export_atlas`)::

    {
      "schema": "kardes-atlas/1",
      "generated_at": "2030-01-15T12:00:00Z",        # UTC, ISO 8601
      "min_cell": 5,                                  # cells below this are suppressed
      "members_by_country":  [{"country": "DE", "members": 12, "suppressed": false},
                              {"country": "LV", "members": null, "suppressed": true,
                               "reason": "small"}, ...],     # or "protects_small"
      "members_by_origin":   [{"country": "KZ", "members": 7, "suppressed": false}, ...],
      "members_by_language": [{"language": "kk", "members": 9, "suppressed": false}, ...],
      "members_by_interest": [{"interest": "culture", "members": 6, "suppressed": false}, ...],
      "top_cities":          [{"country": "DE", "city": "Berlin", "members": 10}, ...],
      "registrations_by_month": [{"month": "2030-01", "members": 5, "suppressed": false}, ...],
      "organisations_by_country":   [{"country": "DE", "organisations": 3}, ...],
      "upcoming_events_by_country": [{"country": "DE", "events": 2}, ...],
      "summary": {"<member table name>": {"shown_total": 40, "hidden_cells": 2, "withheld": false}, ...}
    }

    Country codes are ISO 3166-1 alpha-2, languages ISO 639-1, interests our codes (culture,
    education, business, religion, youth, sports, media, consular, volunteering). Member lists
    are ordered by count (largest first), suppressed entries last by code; months in order.
    A suppressed entry has ``"reason"``: ``"small"`` (1 to min_cell - 1 members) or
    ``"protects_small"`` (hidden so that a small one cannot be worked out; min_cell or more).
    Only cities with a published count are listed. ``shown_total`` is the sum of the shown
    cells, never the true total.

CSV (``export_atlas(..., "csv", ...)``): one row per entry, columns
``table,key,parent,count,suppressed,reason``: ``table`` is a list name above, ``key`` the
country, language, interest, month or city, ``parent`` the city's country (else empty),
``count`` empty when suppressed, ``suppressed`` ``true``/``false``, ``reason`` as in JSON.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Event, EventStatus, Member, Organisation

SCHEMA = "kardes-atlas/1"
DEFAULT_MIN_CELL = 5
NOT_GIVEN = ""  # a breakdown's row or column for members who did not say

#: The secretariat's breakdowns: name -> (row dimension, column dimension).
BREAKDOWNS: dict[str, tuple[str, str]] = {
    "country_origin": ("country", "origin"),
    "city_origin": ("city", "origin"),
    "country_language": ("country", "languages"),
    "country_interest": ("country", "interests"),
}
MEMBER_TABLES = ("members_by_country", "members_by_origin", "members_by_language", "members_by_interest",
                 "registrations_by_month")

K = TypeVar("K", bound=Hashable)


# --- data --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MemberRow:
    """What the atlas needs of one member: no name, no id, no coordinates."""

    country: str | None
    city: str | None
    origin: str | None
    languages: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    month: str | None = None  # "YYYY-MM" of registration


@dataclass(frozen=True, slots=True)
class Cell:
    """One published count; ``count`` is None when hidden."""

    key: str
    count: int | None
    parent: str | None = None  # a city's country
    small: bool = False  # hidden because it is under min_cell (else hidden to protect one that is)

    @property
    def hidden(self) -> bool:
        return self.count is None


@dataclass(frozen=True, slots=True)
class Table:
    """A one-dimensional table as published."""

    cells: tuple[Cell, ...] = ()
    withheld: bool = False  # too few members to publish it safely beside the other tables

    @property
    def shown_total(self) -> int:
        return sum(cell.count for cell in self.cells if cell.count is not None)

    @property
    def hidden_cells(self) -> int:
        return sum(1 for cell in self.cells if cell.count is None)

    def __bool__(self) -> bool:
        return bool(self.cells)

    def get(self, key: str) -> Cell | None:
        return next((cell for cell in self.cells if cell.key == key), None)


@dataclass(frozen=True, slots=True)
class Breakdown:
    """A two-dimensional table for the secretariat; rows are tuples (country[, city])."""

    name: str
    rows: tuple[tuple[str, ...], ...] = ()
    columns: tuple[str, ...] = ()
    cells: Mapping[tuple[tuple[str, ...], str], int | None] = field(default_factory=dict)
    withheld: bool = False  # too small to publish safely in any form

    def row_total(self, row: tuple[str, ...]) -> int:
        """The row's count of shown cells (a lower bound, never the true total)."""
        return sum(v for (r, _c), v in self.cells.items() if r == row and v is not None)


@dataclass(frozen=True, slots=True)
class Atlas:
    """Everything the atlas publishes, suppression already applied."""

    min_cell: int
    generated_at: datetime
    countries: Table = Table()
    cities: Table = Table()
    origins: Table = Table()
    languages: Table = Table()
    interests: Table = Table()
    months: Table = Table()
    organisations: Table = Table()
    events: Table = Table()
    breakdowns: Mapping[str, Breakdown] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        """Nothing at all to show: no members, organisations or events."""
        return not (self.countries or self.origins or self.months or self.organisations or self.events
                    or self.countries.withheld or self.origins.withheld or self.months.withheld)


# --- suppression (pure) ------------------------------------------------------------------

def suppress(counts: Mapping[K, int], min_cell: int) -> dict[K, int | None]:
    """Primary suppression: counts under ``min_cell`` become None; zero cells are dropped."""
    return {key: (value if value >= min_cell else None) for key, value in counts.items() if value > 0}


def pinned_cells(counts: Mapping[K, int], hidden: set[K], lines: Sequence[Iterable[K]], min_cell: int) -> set[K]:
    """Hidden cells under ``min_cell`` that a reader who knows every line's total can solve exactly."""
    INF = float("inf")
    low: dict[K, float] = {key: 1 for key in hidden}
    high: dict[K, float] = {key: INF for key in hidden}
    known = [(list(line), sum(counts[k] for k in line)) for line in lines]
    changed = True
    while changed:
        changed = False
        for line, total in known:
            secret = [k for k in line if k in hidden]
            if not secret:
                continue
            rest = total - sum(counts[k] for k in line if k not in hidden)
            for key in secret:
                others = [k for k in secret if k != key]
                new_low = max(low[key], rest - sum(high[k] for k in others))
                new_high = min(high[key], rest - sum(low[k] for k in others))
                if (new_low, new_high) != (low[key], high[key]):
                    low[key], high[key] = new_low, new_high
                    changed = True
    return {key for key in hidden if counts[key] < min_cell and low[key] == high[key]}


def protect(counts: Mapping[K, int], lines: Sequence[Iterable[K]], min_cell: int,
            always_hidden: Iterable[K] = ()) -> set[K] | None:
    """The cells to hide so that no small cell can be solved from the lines' totals; None: withhold all."""
    counts = {key: value for key, value in counts.items() if value > 0}
    hidden = {key for key, value in counts.items() if value < min_cell} | (set(always_hidden) & counts.keys())
    lines = [[k for k in line if k in counts] for line in lines]
    lines = [line for line in lines if sum(counts[k] for k in line) >= min_cell]
    exposed = pinned_cells(counts, hidden, lines, min_cell)
    while exposed:
        # Hide the shown cell that leaves the fewest small cells solvable (then the smallest),
        # looking first on the lines through a solvable cell, then on any line with a hidden one.
        candidates = {k for line in lines if exposed & set(line) for k in line if k not in hidden}
        candidates = candidates or {k for line in lines if hidden & set(line) for k in line if k not in hidden}
        if not candidates:
            return None
        scored = sorted((len(pinned_cells(counts, hidden | {k}, lines, min_cell)), counts[k], repr(k), k) for k in candidates)
        hidden.add(scored[0][3])
        exposed = pinned_cells(counts, hidden, lines, min_cell)
    return hidden


def _shown_sum(counts: Mapping[str, int], hidden: set[str]) -> int:
    return sum(v for k, v in counts.items() if k not in hidden)


def _linked_bounds(tables: Sequence[Mapping[str, int]], small: Sequence[set[str]], extra: Sequence[set[str]],
                   min_cell: int, withheld: set[int], floor: int) -> tuple[float, float]:
    """What a reader can tell of the common total of linked tables: [low, high]."""
    low, high = float(floor), float("inf")
    for index, (counts, primary, complementary) in enumerate(zip(tables, small, extra)):
        if index in withheld:
            continue
        shown = _shown_sum(counts, primary | complementary)
        low = max(low, shown + len(primary) + min_cell * len(complementary))
        if not complementary:
            high = min(high, shown + (min_cell - 1) * len(primary))
    return low, high


def linked_pins(tables: Sequence[Mapping[str, int]], small: Sequence[set[str]], extra: Sequence[set[str]],
                min_cell: int, withheld: set[int] | None = None, floor: int = 0) -> list[set[str]]:
    """Per table, the small hidden cells a reader can solve by assuming every table adds up to one total.

    ``floor`` is what else the reader knows the total to reach (the largest shown language or
    interest count: every member is counted at most once in each).
    """
    withheld = withheld or set()
    low, high = _linked_bounds(tables, small, extra, min_cell, withheld, floor)
    pins: list[set[str]] = []
    for index, (counts, primary, complementary) in enumerate(zip(tables, small, extra)):
        found: set[str] = set()
        if index not in withheld:
            shown = _shown_sum(counts, primary | complementary)
            others_low = len(primary) - 1 + min_cell * len(complementary)
            others_high = float("inf") if complementary else (min_cell - 1) * (len(primary) - 1)
            if primary and max(1, low - shown - others_high) >= min(min_cell - 1, high - shown - others_low):
                found = set(primary)
        pins.append(found)
    return pins


def protect_linked(tables: Sequence[Mapping[str, int]], min_cell: int,
                   floors: Sequence[Mapping[str, int]] = ()) -> tuple[list[set[str]], set[int], list[set[str]]]:
    """Complementary suppression for one-dimensional tables of the same members (one unknown total).

    ``floors`` are tables that count a member at most once per cell (languages, interests): each
    shown cell tells the reader the total is at least that much. Returns, per table, the cells
    hidden *in addition* to the small ones; the tables to withhold whole when hiding cells is not
    enough; and, per floor table, the cells hidden to lower the floor. A reader is assumed to
    know which hidden cells are small (they read "fewer than N") and which protect them.
    """
    small = [{k for k, v in counts.items() if 0 < v < min_cell} for counts in tables]
    extra: list[set[str]] = [set() for _ in tables]
    floor_extra: list[set[str]] = [set() for _ in floors]
    withheld: set[int] = set()

    def floor_cells() -> list[tuple[int, int, str]]:
        return sorted(((v, i, k) for i, counts in enumerate(floors) for k, v in counts.items()
                       if v >= min_cell and k not in floor_extra[i]), reverse=True)

    while True:
        top = floor_cells()
        floor = top[0][0] if top else 0
        pins = linked_pins(tables, small, extra, min_cell, withheld, floor)
        if not any(pins):
            return extra, withheld, floor_extra
        low_without_floor, _high = _linked_bounds(tables, small, extra, min_cell, withheld, 0)
        if top and floor > low_without_floor:  # the floor is what pins: lower it
            _value, i, key = top[0]
            floor_extra[i].add(key)
            continue
        pinned_in = next(i for i, found in enumerate(pins) if found)
        # The table that tells most about the total first: the fewest hidden cells.
        order = sorted((i for i in range(len(tables)) if i != pinned_in and i not in withheld),
                       key=lambda i: (len(small[i]) + len(extra[i]), i)) + [pinned_in]
        for i in order:
            shown = [k for k, v in tables[i].items() if v > 0 and k not in small[i] and k not in extra[i]]
            if shown:
                extra[i].add(min(shown, key=lambda k: (tables[i][k], k)))
                break
        else:  # everything is hidden and the bounds still meet: publish less
            withheld.add(order[0])


# --- the atlas (pure) --------------------------------------------------------------------

def _table(counts: Mapping[str, int], min_cell: int, *, chronological: bool = False,
           protecting: Iterable[str] = ()) -> Table:
    published = suppress(counts, min_cell)
    for key in protecting:
        published[key] = None
    if chronological:
        keys = sorted(published)
    else:
        keys = sorted(published, key=lambda k: (published[k] is None, -(published[k] or 0), k))
    return Table(tuple(Cell(k, published[k], small=counts[k] < min_cell) for k in keys))


def _exact(counts: Mapping[str, int]) -> Table:
    keys = sorted((k for k in counts if counts[k] > 0), key=lambda k: (-counts[k], k))
    return Table(tuple(Cell(k, counts[k]) for k in keys))


def _values(row: MemberRow, dimension: str) -> tuple[str, ...]:
    if dimension == "city":
        return (row.city,) if row.city else ()
    if dimension in ("languages", "interests"):
        return tuple(sorted(set(getattr(row, dimension)))) or (NOT_GIVEN,)
    return (getattr(row, dimension) or NOT_GIVEN,)


def _top_cities(members: Sequence[MemberRow], country_counts: Counter[str], min_cell: int) -> Table:
    counts: Counter[tuple[str, str]] = Counter((m.country, m.city or NOT_GIVEN) for m in members if m.country)
    lines = [[key for key in counts if key[0] == country] for country in country_counts]
    nowhere = [key for key in counts if key[1] == NOT_GIVEN]  # members with no city: never listed
    hidden = protect(counts, lines, min_cell, always_hidden=nowhere) or set(counts)
    shown = sorted((k for k in counts if k not in hidden), key=lambda k: (-counts[k], k))
    return Table(tuple(Cell(city, counts[(country, city)], parent=country) for country, city in shown))


def breakdown(name: str, members: Sequence[MemberRow], min_cell: int) -> Breakdown:
    """One of the secretariat's two-dimensional tables, protected (see the module docstring)."""
    row_dim, col_dim = BREAKDOWNS[name]
    counts: Counter[tuple[tuple[str, ...], str]] = Counter()
    for member in members:
        if not member.country:
            continue
        if row_dim == "city":
            if not member.city:
                continue
            row: tuple[str, ...] = (member.country, member.city)
        else:
            row = (member.country,)
        for column in _values(member, col_dim):
            counts[(row, column)] += 1
    if not counts:
        return Breakdown(name)
    rows = sorted({r for r, _c in counts})
    columns = sorted({c for _r, c in counts})
    # A member counts once per language or interest: rows of those add up to nothing published.
    lines = [] if col_dim in ("languages", "interests") else [[(r, c) for c in columns if (r, c) in counts] for r in rows]
    lines += [[(r, c) for r in rows if (r, c) in counts] for c in columns]
    hidden = protect(counts, lines, min_cell)
    if hidden is None:
        return Breakdown(name, withheld=True)
    row_sum = Counter({r: 0 for r in rows})
    for (r, _c), value in counts.items():
        row_sum[r] += value
    ordered = tuple(sorted(rows, key=lambda r: (-row_sum[r], r)))
    col_sum = Counter({c: 0 for c in columns})
    for (_r, c), value in counts.items():
        col_sum[c] += value
    ordered_cols = tuple(sorted(columns, key=lambda c: (c == NOT_GIVEN, -col_sum[c], c)))
    cells = {key: (None if key in hidden else value) for key, value in counts.items()}
    return Breakdown(name, ordered, ordered_cols, cells)


def compute_atlas(members: Iterable[MemberRow], min_cell: int = DEFAULT_MIN_CELL, *,
                  organisations: Mapping[str, int] | None = None, events: Mapping[str, int] | None = None,
                  detailed: bool = False, generated_at: datetime | None = None) -> Atlas:
    """The atlas of these members (and organisation/event counts per country), suppression applied."""
    if min_cell < 1:
        raise ValueError("min_cell must be at least 1")
    members = list(members)
    countries = Counter(m.country for m in members if m.country)
    origins = Counter(m.origin for m in members if m.origin)
    languages = Counter(code for m in members for code in set(m.languages))
    interests = Counter(code for m in members for code in set(m.interests))
    months = Counter(m.month for m in members if m.month)
    # Country, origin and month each count (nearly) every member: protect them together.
    (extra_countries, extra_origins, extra_months), withheld, (extra_languages, extra_interests) = protect_linked(
        [countries, origins, months], min_cell, floors=[languages, interests])
    return Atlas(
        min_cell=min_cell,
        generated_at=(generated_at or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0),
        countries=Table(withheld=True) if 0 in withheld else _table(countries, min_cell, protecting=extra_countries),
        cities=_top_cities(members, countries, min_cell),
        origins=Table(withheld=True) if 1 in withheld else _table(origins, min_cell, protecting=extra_origins),
        languages=_table(languages, min_cell, protecting=extra_languages),
        interests=_table(interests, min_cell, protecting=extra_interests),
        months=Table(withheld=True) if 2 in withheld else _table(months, min_cell, chronological=True, protecting=extra_months),
        organisations=_exact(organisations or {}),
        events=_exact(events or {}),
        breakdowns={name: breakdown(name, members, min_cell) for name in BREAKDOWNS} if detailed else {},
    )


# --- the database ------------------------------------------------------------------------

async def member_rows(session: AsyncSession) -> list[MemberRow]:
    """Every active, registered member, reduced to what the atlas counts."""
    query = select(Member.country_code, Member.city_name, Member.origin_country, Member.languages,
                   Member.interests, Member.registered_at).where(
        Member.is_active.is_(True), Member.registered_at.is_not(None))
    rows = []
    for country, city, origin, languages, interests, registered in await session.execute(query):
        rows.append(MemberRow(
            country=(country or "").upper() or None,
            city=(city or "").strip() or None,
            origin=(origin or "").upper() or None,
            languages=tuple(str(code) for code in (languages or [])),
            interests=tuple(str(code) for code in (interests or [])),
            month=registered.astimezone(timezone.utc).strftime("%Y-%m") if registered else None,
        ))
    return rows


async def organisations_by_country(session: AsyncSession) -> dict[str, int]:
    """Active organisations per country."""
    query = (select(Organisation.country_code, func.count()).where(Organisation.is_active.is_(True),
             Organisation.country_code.is_not(None)).group_by(Organisation.country_code))
    return {code.upper(): n for code, n in await session.execute(query) if code}


async def upcoming_events_by_country(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Approved events that have not started yet, per country."""
    query = (select(Event.country_code, func.count()).where(
        Event.status == EventStatus.APPROVED.value, Event.starts_at >= now, Event.country_code.is_not(None))
        .group_by(Event.country_code))
    return {code.upper(): n for code, n in await session.execute(query) if code}


async def build_atlas(session: AsyncSession, min_cell: int = DEFAULT_MIN_CELL, *, detailed: bool = False,
                      now: datetime | None = None) -> Atlas:
    """The atlas from the database; ``detailed`` adds the secretariat's breakdowns."""
    now = now or datetime.now(timezone.utc)
    return compute_atlas(await member_rows(session), min_cell,
                         organisations=await organisations_by_country(session),
                         events=await upcoming_events_by_country(session, now),
                         detailed=detailed, generated_at=now)


# --- open data ---------------------------------------------------------------------------

def _member_list(table: Table, key_name: str) -> list[dict[str, Any]]:
    entries = []
    for cell in table.cells:
        entry: dict[str, Any] = {key_name: cell.key, "members": cell.count, "suppressed": cell.hidden}
        if cell.hidden:
            entry["reason"] = "small" if cell.small else "protects_small"
        entries.append(entry)
    return entries


def atlas_to_dict(atlas: Atlas) -> dict[str, Any]:
    """The public atlas as JSON-able data, schema ``kardes-atlas/1`` (never the breakdowns)."""
    tables = {
        "members_by_country": _member_list(atlas.countries, "country"),
        "members_by_origin": _member_list(atlas.origins, "country"),
        "members_by_language": _member_list(atlas.languages, "language"),
        "members_by_interest": _member_list(atlas.interests, "interest"),
    }
    summary_of = {"members_by_country": atlas.countries, "members_by_origin": atlas.origins,
                  "members_by_language": atlas.languages, "members_by_interest": atlas.interests,
                  "registrations_by_month": atlas.months}
    return {
        "schema": SCHEMA,
        "generated_at": atlas.generated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "min_cell": atlas.min_cell,
        **tables,
        "top_cities": [{"country": c.parent, "city": c.key, "members": c.count} for c in atlas.cities.cells],
        "registrations_by_month": _member_list(atlas.months, "month"),
        "organisations_by_country": [{"country": c.key, "organisations": c.count} for c in atlas.organisations.cells],
        "upcoming_events_by_country": [{"country": c.key, "events": c.count} for c in atlas.events.cells],
        "summary": {name: {"shown_total": t.shown_total, "hidden_cells": t.hidden_cells, "withheld": t.withheld}
                    for name, t in summary_of.items()},
    }


async def public_atlas(session: AsyncSession, min_cell: int = DEFAULT_MIN_CELL, *, now: datetime | None = None) -> dict[str, Any]:
    """The public atlas as open data (what GET /atlas.json serves)."""
    return atlas_to_dict(await build_atlas(session, min_cell, now=now))


CSV_COLUMNS = ("table", "key", "parent", "count", "suppressed", "reason")
_KEYS = {"members_by_country": "country", "members_by_origin": "country", "members_by_language": "language",
         "members_by_interest": "interest", "registrations_by_month": "month", "top_cities": "city",
         "organisations_by_country": "country", "upcoming_events_by_country": "country"}
_COUNTS = {"top_cities": "members", "organisations_by_country": "organisations", "upcoming_events_by_country": "events"}


def csv_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The open data as flat CSV rows (columns ``CSV_COLUMNS``)."""
    rows = []
    for table, key in _KEYS.items():
        for entry in data.get(table, []):
            count = entry.get(_COUNTS.get(table, "members"))
            rows.append({
                "table": table,
                "key": str(entry[key]),
                "parent": str(entry["country"]) if table == "top_cities" else "",
                "count": "" if count is None else str(count),
                "suppressed": "true" if entry.get("suppressed") else "false",
                "reason": str(entry.get("reason", "")),
            })
    return rows


def render_export(data: Mapping[str, Any], fmt: str) -> str:
    """The open data as JSON or CSV text."""
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows(data))
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}: use json or csv")


async def export_atlas(session: AsyncSession, fmt: str, path: str | Path, min_cell: int = DEFAULT_MIN_CELL, *,
                       now: datetime | None = None) -> dict[str, Any]:
    """Write the public atlas to ``path`` as ``json`` or ``csv``; returns the data written."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown format {fmt!r}: use json or csv")
    data = await public_atlas(session, min_cell, now=now)
    Path(path).write_text(render_export(data, fmt), encoding="utf-8")
    return data
