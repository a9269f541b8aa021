"""The Diaspora Atlas: differentially private releases, stored as snapshots, with a budget ledger.

Why noise and not suppression
    Hiding small cells over many overlapping tables was shown attackable (issue #12): a hidden
    cell could be pinned by subtraction, by bounds from other tables, or by comparing two live
    answers. A release here is *differentially private*: every member count is a true count plus
    integer noise from the discrete Laplace mechanism (OpenDP's ``make_count_by_categories``
    chained with ``make_laplace``). Whether or not any one member is in the data, the probability
    of every possible release changes by at most a factor e^ε. Everything afterwards (clamping,
    thresholds, consistency) is post-processing of the noisy numbers and costs no privacy.

Unit of privacy and bounded contributions
    One member. Each member counts at most once in the tables of residence country, city, origin
    and registration month, in at most ``MAX_LANGUAGES`` languages and ``MAX_INTERESTS`` interests
    (the first they chose), and likewise in the secretariat's breakdowns. A table's sensitivity
    (how much one member can move it, in L1) is therefore 1, or 2 for languages and interests.
    Members who left origin or languages unanswered are simply not in those tables.

Fixed domains
    Which keys exist must not depend on the data, so each table counts over a public list: every
    ISO 3166 country (residence and origin), every gazetteer city (country, name), our spoken
    languages and interests, and the 24 calendar months up to the release (UTC).

Splitting ε (``ATLAS_EPSILON``, default 1.0 for the whole release)
    Table ``t`` gets ε·w_t/Σw with the weights in ``TABLES`` (Σw = 15): countries 3, cities 2,
    origins 2, languages 2, interests 1, months 1, and 1 for each of the four secretariat
    breakdowns. Its noise scale is sensitivity/ε_t. Sequential composition makes the release
    ε-differentially private (δ = 0); OpenDP computes each table's ε and the ledger records them.

Post-processing (:func:`_publish`)
    Noisy counts are clamped at 0. Small tables (languages, interests, months) list every key;
    a count under ``min_cell`` (``ATLAS_MIN_CELL``) reads "fewer than N" (``members: null``).
    Large tables (countries, origins, cities, breakdowns) list only keys whose noisy count reaches
    the table's ``fewer_than`` threshold: the larger of ``min_cell`` and the count that empty keys
    reach with probability below 5 % for the whole table, so the list is not full of noise; every
    unlisted key had fewer. A city is listed only under a listed country, never above it, and the
    cities of a country never add up to more than the country. Totals are sums of the published
    noisy counts, never the true total. Each count comes with ``margin95``: the noise stays within
    ± that much with 95 % probability.

Snapshots and budget
    A release is computed on the worker's schedule (``ATLAS_SCHEDULE``) or on request of the
    secretariat (``/atlas`` or ``kardes atlas release``) and stored (``atlas_releases``); every
    output reads the latest one, so asking again returns the same numbers. The ledger
    (``atlas_ledger``) records every release's ε per table; once the next release would take the
    lifetime total past ``ATLAS_LIFETIME_EPSILON``, releases are refused.

Open data schema ``kardes-atlas/2``: see :func:`empty_document` and the README.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import AtlasLedger, AtlasRelease, Event, EventStatus, Member, Organisation

SCHEMA = "kardes-atlas/2"
MECHANISM = "discrete Laplace (OpenDP make_laplace)"
DEFAULT_MIN_CELL = 5
MAX_LANGUAGES = 2
MAX_INTERESTS = 2
MONTHS = 24
FALSE_LISTING = 0.05  # chance that a large table lists at least one key that holds nobody
SEP = "\x1f"  # joins the parts of a two- or three-part key for OpenDP's string categories
ORIGIN_COLUMNS = ("TR", "AZ", "KZ", "KG", "UZ", "TM")  # city x origin columns; others are "other"
OTHER = "other"


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    key: str  # the entry's key name in the open data
    sensitivity: int
    weight: int
    listed: bool  # large domain: list only keys above the threshold
    public: bool = True


TABLES: tuple[TableSpec, ...] = (
    TableSpec("members_by_country", "country", 1, 3, True),
    TableSpec("top_cities", "city", 1, 2, True),
    TableSpec("members_by_origin", "country", 1, 2, True),
    TableSpec("members_by_language", "language", MAX_LANGUAGES, 2, False),
    TableSpec("members_by_interest", "interest", MAX_INTERESTS, 1, False),
    TableSpec("registrations_by_month", "month", 1, 1, False),
    TableSpec("country_origin", "origin", 1, 1, True, public=False),
    TableSpec("city_origin", "origin", 1, 1, True, public=False),
    TableSpec("country_language", "language", MAX_LANGUAGES, 1, True, public=False),
    TableSpec("country_interest", "interest", MAX_INTERESTS, 1, True, public=False),
)
PUBLIC_TABLES = tuple(t.name for t in TABLES if t.public)
BREAKDOWNS = tuple(t.name for t in TABLES if not t.public)
TOTAL_WEIGHT = sum(t.weight for t in TABLES)


# --- data --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MemberRow:
    """What the atlas needs of one member: no name, no id, no coordinates."""

    country: str | None
    city: str | None
    origin: str | None  # None: not given ("prefer not to say")
    languages: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    month: str | None = None  # "YYYY-MM" of registration


@dataclass(frozen=True)
class Domains:
    """The public lists of keys each table counts over (never taken from the data)."""

    countries: tuple[str, ...]
    cities: tuple[tuple[str, str], ...]
    languages: tuple[str, ...]
    interests: tuple[str, ...]
    months: tuple[str, ...]


@lru_cache(maxsize=1)
def _static_domains() -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    import pycountry

    from bot.geo import get_gazetteer

    countries = tuple(sorted({c.alpha_2 for c in pycountry.countries} | {"XK"}))
    gazetteer = get_gazetteer()
    cities = tuple(sorted({(gazetteer._cc[i], gazetteer._names[i]) for i in range(len(gazetteer))}))
    return countries, cities


def months_up_to(now: datetime, count: int = MONTHS) -> tuple[str, ...]:
    """The ``count`` calendar months ending with ``now``'s, oldest first."""
    year, month = now.year, now.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return tuple(reversed(out))


def default_domains(now: datetime) -> Domains:
    """Every country, every gazetteer city, our languages and interests, the last 24 months."""
    from bot.services.registration import INTERESTS, SPOKEN_LANGUAGES

    countries, cities = _static_domains()
    return Domains(countries, cities, tuple(SPOKEN_LANGUAGES), tuple(INTERESTS), months_up_to(now))


def _first(values: Iterable[str], limit: int) -> list[str]:
    seen: list[str] = []
    for value in values:
        if value not in seen:
            seen.append(value)
        if len(seen) == limit:
            break
    return seen


def contributions(members: Sequence[MemberRow]) -> dict[str, list[tuple[str, ...]]]:
    """Per table, the records each member adds (bounded as documented above)."""
    out: dict[str, list[tuple[str, ...]]] = {t.name: [] for t in TABLES}
    for m in members:
        languages = _first(m.languages, MAX_LANGUAGES)
        interests = _first(m.interests, MAX_INTERESTS)
        if m.country:
            out["members_by_country"].append((m.country,))
            if m.city:
                out["top_cities"].append((m.country, m.city))
            if m.origin:
                out["country_origin"].append((m.country, m.origin))
                if m.city:
                    column = m.origin if m.origin in ORIGIN_COLUMNS else OTHER
                    out["city_origin"].append((m.country, m.city, column))
            out["country_language"] += [(m.country, code) for code in languages]
            out["country_interest"] += [(m.country, code) for code in interests]
        if m.origin:
            out["members_by_origin"].append((m.origin,))
        out["members_by_language"] += [(code,) for code in languages]
        out["members_by_interest"] += [(code,) for code in interests]
        if m.month:
            out["registrations_by_month"].append((m.month,))
    return out


def table_domain(name: str, domains: Domains) -> list[tuple[str, ...]]:
    """The keys a table counts over."""
    countries = [(c,) for c in domains.countries]
    if name in ("members_by_country", "members_by_origin"):
        return countries
    if name == "top_cities":
        return list(domains.cities)
    if name == "members_by_language":
        return [(c,) for c in domains.languages]
    if name == "members_by_interest":
        return [(c,) for c in domains.interests]
    if name == "registrations_by_month":
        return [(m,) for m in domains.months]
    if name == "country_origin":
        return [(c, o) for c in domains.countries for o in domains.countries]
    if name == "city_origin":
        return [(c, city, o) for c, city in domains.cities for o in (*ORIGIN_COLUMNS, OTHER)]
    if name == "country_language":
        return [(c, code) for c in domains.countries for code in domains.languages]
    if name == "country_interest":
        return [(c, code) for c in domains.countries for code in domains.interests]
    raise KeyError(name)


# --- the mechanism -----------------------------------------------------------------------

def laplace_counts(records: Sequence[str], categories: Sequence[str], scale: float, sensitivity: int) -> tuple[list[int], float]:
    """Noisy counts of ``records`` per category (OpenDP), and the ε OpenDP proves for them.

    ``sensitivity`` is how many records one member can add: the privacy unit is the member.
    """
    import opendp.prelude as dp

    dp.enable_features("contrib")
    # The categories go to OpenDP as their positions in the fixed list, and each record as its
    # category's position (-1, in no category, is dropped like an unknown string would be):
    # the same counts, without converting tens of thousands of strings into OpenDP's own on
    # every release. Renaming by a fixed table, record by record, changes no distance between
    # datasets, so the guarantee OpenDP proves is the same.
    position = {category: i for i, category in enumerate(categories)}
    measurement = dp.t.make_count_by_categories(
        dp.vector_domain(dp.atom_domain(T=dp.i32)), dp.symmetric_distance(), categories=list(range(len(categories))),
        null_category=False, MO=dp.L1Distance[int], TOA=int,
    ) >> dp.m.then_laplace(scale=scale)
    coded = [position.get(record, -1) for record in records]
    return list(measurement(coded)), float(measurement.map(sensitivity))


def _alpha(scale: float) -> float:
    return math.exp(-1.0 / scale)


def margin95(scale: float) -> int:
    """The smallest m with P(|noise| > m) <= 5 % for discrete Laplace noise of this scale."""
    alpha = _alpha(scale)
    # P(|Z| > m) = 2 alpha^(m+1) / (1 + alpha)
    m = max(0, math.ceil(math.log(0.05 * (1 + alpha) / 2) / math.log(alpha) - 1))
    while m > 0 and 2 * alpha ** m / (1 + alpha) <= 0.05:
        m -= 1
    while 2 * alpha ** (m + 1) / (1 + alpha) > 0.05:
        m += 1
    return m


def listing_threshold(scale: float, keys: int, min_cell: int) -> int:
    """A count so high that all ``keys`` empty keys together reach it with probability < 5 %."""
    alpha = _alpha(scale)
    # P(Z >= t) = alpha^t / (1 + alpha) for t >= 1; union over the keys.
    t = math.ceil(math.log(FALSE_LISTING * (1 + alpha) / max(1, keys)) / math.log(alpha))
    return max(min_cell, t, 1)


def table_epsilon(epsilon: float, spec: TableSpec) -> float:
    return epsilon * spec.weight / TOTAL_WEIGHT


# --- a release (pure but for the noise) ---------------------------------------------------

def _entry(spec: TableSpec, key: tuple[str, ...], value: int | None, margin: int, threshold: int) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if spec.name == "top_cities":
        entry = {"country": key[0], "city": key[1]}
    else:
        entry = {spec.key: key[-1]}
    entry["members"] = value
    if value is None:
        entry["fewer_than"] = threshold
    entry["margin95"] = margin
    return entry


def _publish(spec: TableSpec, keys: list[tuple[str, ...]], noisy: list[int], scale: float, min_cell: int,
             countries: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Post-processing of one table's noisy counts (see the module docstring)."""
    margin = margin95(scale)
    values = {key: max(0, value) for key, value in zip(keys, noisy)}
    if not spec.listed:
        threshold = min_cell
        entries = [(key, v if v >= min_cell else None) for key, v in values.items()]
        if spec.name != "registrations_by_month":
            entries.sort(key=lambda e: (e[1] is None, -(e[1] or 0), e[0]))
    else:
        threshold = listing_threshold(scale, len(keys), min_cell)
        kept = {key: v for key, v in values.items() if v >= threshold}
        if countries is not None:  # consistent with the listed countries (cities, breakdown rows)
            kept = {key: min(v, countries[key[0]]) for key, v in kept.items() if key[0] in countries}
        if spec.name == "top_cities" and countries is not None:
            for country, allowed in countries.items():
                mine = {k: v for k, v in kept.items() if k[0] == country}
                total = sum(mine.values())
                if total > allowed:
                    for k, v in mine.items():
                        kept[k] = v * allowed // total
        # Lowered to its country's count, a cell may have fallen below the threshold: not listed then.
        kept = {k: v for k, v in kept.items() if v >= threshold}
        entries = sorted(kept.items(), key=lambda e: (-e[1], e[0]))
    published: dict[str, Any] = {
        "epsilon": None, "sensitivity": spec.sensitivity, "scale": round(scale, 6), "margin95": margin,
        "fewer_than": threshold,
        "total": sum(v for _k, v in entries if v is not None),
    }
    if spec.public:
        published["entries"] = [_entry(spec, key, value, margin, threshold) for key, value in entries]
    else:
        published["cells"] = [[*key, value] for key, value in entries]
    return published


def compute_release(members: Iterable[MemberRow], epsilon: float, *, min_cell: int = DEFAULT_MIN_CELL,
                    organisations: Mapping[str, int] | None = None, events: Mapping[str, int] | None = None,
                    now: datetime | None = None, domains: Domains | None = None,
                    tables: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """One release: (public document, secretariat breakdowns, ε per table as OpenDP proves it).

    ``tables`` limits the release to some tables (tests); the budget split stays the same.
    """
    if not epsilon > 0:
        raise ValueError("epsilon must be positive")
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)
    domains = domains or default_domains(now)
    records = contributions(list(members))
    spent: dict[str, float] = {}
    public = empty_document()
    public["generated_at"] = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    public["min_cell"] = min_cell
    breakdowns: dict[str, Any] = {}
    listed_countries: dict[str, int] = {}
    for spec in TABLES:
        if tables is not None and spec.name not in tables:
            continue
        keys = table_domain(spec.name, domains)
        categories = [SEP.join(key) for key in keys]
        eps_t = table_epsilon(epsilon, spec)
        scale = spec.sensitivity / eps_t
        noisy, proven = laplace_counts([SEP.join(r) for r in records[spec.name]], categories, scale, spec.sensitivity)
        consistent = listed_countries if spec.name in ("top_cities", *BREAKDOWNS) and "members_by_country" in spent else None
        table = _publish(spec, keys, noisy, scale, min_cell, consistent)
        table["epsilon"] = proven
        spent[spec.name] = proven
        if spec.name == "members_by_country":
            listed_countries = {e["country"]: e["members"] for e in table["entries"]}
        if spec.public:
            public[spec.name] = table
        else:
            breakdowns[spec.name] = table
    public["privacy"] = {
        "mechanism": MECHANISM, "epsilon": round(sum(spent.values()), 9), "delta": 0.0, "unit": "member",
        "max_languages": MAX_LANGUAGES, "max_interests": MAX_INTERESTS,
    }
    public["organisations_by_country"] = _exact(organisations or {}, "organisations")
    public["upcoming_events_by_country"] = _exact(events or {}, "events")
    return public, breakdowns, spent


def _exact(counts: Mapping[str, int], name: str) -> list[dict[str, Any]]:
    keys = sorted((k for k in counts if counts[k] > 0), key=lambda k: (-counts[k], k))
    return [{"country": k, name: counts[k]} for k in keys]


def empty_document() -> dict[str, Any]:
    """The open data before any release: schema ``kardes-atlas/2`` with nothing in it."""
    return {
        "schema": SCHEMA,
        "release": None,
        "generated_at": None,
        "privacy": None,
        "min_cell": DEFAULT_MIN_CELL,
        **{name: {"entries": []} for name in PUBLIC_TABLES},
        "organisations_by_country": [],
        "upcoming_events_by_country": [],
    }


def is_empty(document: Mapping[str, Any]) -> bool:
    """Nothing to show: no published member count, organisation or event."""
    for name in PUBLIC_TABLES:
        if any(e.get("members") is not None for e in document.get(name, {}).get("entries", [])):
            return False
    return not (document.get("organisations_by_country") or document.get("upcoming_events_by_country"))


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
    """Active organisations per country (public listings: published exactly)."""
    query = (select(Organisation.country_code, func.count()).where(Organisation.is_active.is_(True),
             Organisation.country_code.is_not(None)).group_by(Organisation.country_code))
    return {code.upper(): n for code, n in await session.execute(query) if code}


async def upcoming_events_by_country(session: AsyncSession, now: datetime) -> dict[str, int]:
    """Approved events that have not started yet, per country (public listings)."""
    query = (select(Event.country_code, func.count()).where(
        Event.status == EventStatus.APPROVED.value, Event.starts_at >= now, Event.country_code.is_not(None))
        .group_by(Event.country_code))
    return {code.upper(): n for code, n in await session.execute(query) if code}


@dataclass(frozen=True)
class Budget:
    """The lifetime privacy budget: what is spent and what one more release would cost."""

    spent: float
    lifetime: float
    per_release: float
    releases: int

    @property
    def remaining(self) -> float:
        return max(0.0, self.lifetime - self.spent)

    @property
    def allows_release(self) -> bool:
        return self.spent + self.per_release <= self.lifetime + 1e-9


class BudgetSpent(Exception):
    """A release was refused: it would take the lifetime privacy budget past its limit."""

    def __init__(self, budget: Budget) -> None:
        super().__init__(f"privacy budget spent: {budget.spent:g} of {budget.lifetime:g}, a release needs {budget.per_release:g}")
        self.budget = budget


class ReleaseBusy(Exception):
    """Another release was being recorded at the same moment."""


async def budget(session: AsyncSession, epsilon: float, lifetime: float) -> Budget:
    """The ledger's total so far against the lifetime budget."""
    spent, count = (await session.execute(select(func.coalesce(func.sum(AtlasLedger.epsilon), 0.0), func.count(AtlasLedger.id)))).one()
    return Budget(float(spent), lifetime, epsilon, int(count))


async def ledger(session: AsyncSession) -> list[AtlasLedger]:
    """Every release's line in the privacy ledger, oldest first."""
    return list((await session.scalars(select(AtlasLedger).order_by(AtlasLedger.sequence))).all())


@dataclass(frozen=True)
class ReleasePlan:
    """What a release is computed from, read in one go: the members' rows and the exact counts, at `now`."""

    epsilon: float
    lifetime: float
    min_cell: int
    now: datetime
    domains: Domains | None
    rows: list[MemberRow]
    organisations: dict[str, int]
    events: dict[str, int]


async def plan_release(session: AsyncSession, *, epsilon: float, lifetime: float, min_cell: int = DEFAULT_MIN_CELL,
                       now: datetime | None = None, domains: Domains | None = None) -> ReleasePlan:
    """Read what one release needs; refuses (BudgetSpent) when it would take the lifetime budget past its limit.

    Only reads: the caller ends its transaction before publish_release draws the noise (the bot's
    next Bot API request commits, bot/transaction.py; the CLI and the worker commit), so nothing is
    held open for those seconds."""
    now = now or datetime.now(timezone.utc)
    state = await budget(session, epsilon, lifetime)
    if not state.allows_release:
        raise BudgetSpent(state)
    return ReleasePlan(epsilon, lifetime, min_cell, now, domains, await member_rows(session),
                       await organisations_by_country(session), await upcoming_events_by_country(session, now))


async def publish_release(session: AsyncSession, plan: ReleasePlan, *, trigger: str = "cli",
                          requested_by: int | None = None) -> AtlasRelease:
    """Draw the noise (in a thread: seconds of CPU), then store and book the release in the caller's
    transaction (flushed, not committed). Refuses (BudgetSpent) when another release spent the budget
    meanwhile, (ReleaseBusy) when one was booked at the same moment; either way nothing is left written."""
    public, breakdowns, spent = await asyncio.to_thread(
        compute_release, plan.rows, plan.epsilon, min_cell=plan.min_cell, organisations=plan.organisations,
        events=plan.events, now=plan.now, domains=plan.domains)
    total = sum(spent.values())
    state = await budget(session, plan.epsilon, plan.lifetime)
    if state.spent + total > plan.lifetime + 1e-9:
        raise BudgetSpent(state)
    release = AtlasRelease(created_at=plan.now, epsilon=total, mechanism=MECHANISM, trigger=trigger, public={}, breakdowns=breakdowns)
    session.add(release)
    await session.flush()  # its id, and on SQLite the write transaction begins here (so the savepoint below is nested)
    try:
        # The ledger's sequence is unique: a release booked at the same moment by another process
        # fails here, and only this savepoint is undone, not the caller's transaction.
        async with session.begin_nested():
            session.add(AtlasLedger(sequence=state.releases + 1, release_id=release.id, at=plan.now, epsilon=total,
                                    epsilon_by_table=spent, spent_after=state.spent + total, requested_by=requested_by))
    except IntegrityError:
        await session.delete(release)
        await session.flush()
        raise ReleaseBusy() from None
    public["release"] = release.id
    release.public = public
    await session.flush()
    return release


async def make_release(session: AsyncSession, *, epsilon: float, lifetime: float, min_cell: int = DEFAULT_MIN_CELL,
                       trigger: str = "cli", requested_by: int | None = None, now: datetime | None = None,
                       domains: Domains | None = None) -> AtlasRelease:
    """plan_release then publish_release in one transaction, held across the noise (for tests and
    scripts that have nothing else open); the caller commits."""
    plan = await plan_release(session, epsilon=epsilon, lifetime=lifetime, min_cell=min_cell, now=now, domains=domains)
    return await publish_release(session, plan, trigger=trigger, requested_by=requested_by)


async def latest_release(session: AsyncSession) -> AtlasRelease | None:
    """The newest stored release, or None before the first."""
    return await session.scalar(select(AtlasRelease).order_by(AtlasRelease.id.desc()).limit(1))


async def public_atlas(session: AsyncSession) -> dict[str, Any]:
    """The public atlas as open data (what GET /atlas.json serves): the latest release, never live."""
    release = await latest_release(session)
    return dict(release.public) if release is not None else empty_document()


async def breakdowns(session: AsyncSession) -> dict[str, Any]:
    """The secretariat's breakdowns of the latest release."""
    release = await latest_release(session)
    return dict(release.breakdowns) if release is not None else {}


# --- open data ---------------------------------------------------------------------------

CSV_COLUMNS = ("table", "key", "parent", "count", "fewer_than", "margin95")


def csv_rows(data: Mapping[str, Any]) -> list[dict[str, str]]:
    """The open data as flat CSV rows (columns ``CSV_COLUMNS``)."""
    rows = []
    keys = {t.name: t.key for t in TABLES}
    for name in PUBLIC_TABLES:
        for entry in data.get(name, {}).get("entries", []):
            count = entry.get("members")
            rows.append({
                "table": name,
                "key": str(entry[keys[name]]),
                "parent": str(entry["country"]) if name == "top_cities" else "",
                "count": "" if count is None else str(count),
                "fewer_than": str(entry.get("fewer_than", "")),
                "margin95": str(entry["margin95"]),
            })
    for name, column in (("organisations_by_country", "organisations"), ("upcoming_events_by_country", "events")):
        for entry in data.get(name, []):
            rows.append({"table": name, "key": entry["country"], "parent": "", "count": str(entry[column]),
                         "fewer_than": "", "margin95": "0"})
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


async def export_atlas(session: AsyncSession, fmt: str, path: str | Path) -> dict[str, Any]:
    """Write the latest release to ``path`` as ``json`` or ``csv``; returns the data written."""
    if fmt not in ("json", "csv"):
        raise ValueError(f"unknown format {fmt!r}: use json or csv")
    data = await public_atlas(session)
    text = render_export(data, fmt)
    await asyncio.to_thread(Path(path).write_text, text, encoding="utf-8")
    return data
