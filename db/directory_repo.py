"""Directory queries: organisations and approved events near a point, and text search.

Nearby search (see db/spatial.py for the key): candidates come from `geo_cell` index ranges,
exact great-circle distances are computed in Python, and the result is ordered by
(distance, kind, id) so that pages are stable.  To answer "the 20 nearest" in a dense city
without reading every row within the radius, a search that needs no total starts from a circle
1/64 of the radius (at least 250 m) and widens it, by the density it has seen, until it holds
enough points: every point inside a circle is among its candidates, so the nearest N inside it
are the nearest N overall.  A search with a total reads the whole radius once.  The candidate
statement has one fixed shape (coverings padded to MAX_CELLS ranges), so it is compiled, and
prepared on PostgreSQL, once.

Text search folds in Python (db/text.py: Turkish dotted/dotless i, diacritics, Cyrillic to
Latin) over the active organisations' names, translations, cities and categories; folded keys
are memoised per string, so repeated searches over a few thousand rows cost a few milliseconds.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, literal_column, or_, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Event, EventStatus, Organisation
from db.spatial import MAX_CELLS, geo_cell_for, haversine_km, ranges_covering
from db.text import fold, to_latin
from db.types import utcnow

KIND_EVENT = "event"
KIND_ORGANISATION = "organisation"
KINDS = (KIND_EVENT, KIND_ORGANISATION)

#: A search without a total starts from a circle this many times smaller than asked for...
START_FRACTION = 64.0
#: ...but not below this radius, and widens by at most this factor per step.
MIN_START_KM = 0.25
MAX_GROWTH = 6.0
#: When widening, aim for this many times the points a page needs (filters, uneven density).
OVERSAMPLE = 1.5
# Bound parameters per IN (...) list: well under SQLite's and asyncpg's limits.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class Hit:
    """A row found near a point: its kind, id and distance."""

    kind: str
    id: int
    distance_km: float

    @property
    def sort_key(self) -> tuple[float, str, int]:
        return (self.distance_km, self.kind, self.id)


@dataclass(frozen=True, slots=True)
class NearbyResult:
    """One page of hits, whether more follow, and the total when it was asked for."""

    hits: list[Hit]
    has_next: bool
    total: int | None


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


@lru_cache(maxsize=65536)
def search_key(text: str) -> str:
    """Folded, transliterated key of one string (memoised: names repeat across searches)."""
    return to_latin(text.replace("_", " "))


def query_tokens(text: str) -> list[str]:
    """The folded words of a search query."""
    return [key for key in (search_key(word) for word in fold(text).split()) if key]


def _range_params(ranges: Sequence[tuple[int, int]], prefix: str = "") -> dict[str, int]:
    """Bound values for one covering, padded to MAX_CELLS with empty ranges (lo > hi).

    Padding gives every search the same SQL text, so the statement is compiled (and, on
    PostgreSQL, prepared) once instead of once per number of cells.
    """
    params: dict[str, int] = {}
    padded = list(ranges) + [(1, 0)] * (MAX_CELLS - len(ranges))
    for n, (lo, hi) in enumerate(padded):
        params[f"{prefix}lo{n}"] = lo
        params[f"{prefix}hi{n}"] = hi
    return params


def _range_condition(column: Any, prefix: str = "") -> ColumnElement[bool]:
    return or_(*(column.between(bindparam(f"{prefix}lo{n}"), bindparam(f"{prefix}hi{n}")) for n in range(MAX_CELLS)))


@lru_cache(maxsize=64)
def _candidates_statement(kinds: tuple[str, ...], use_index: bool, with_category: bool) -> Any:
    """(kind, id, latitude, longitude) of the candidates; without the index it reads every row."""
    parts = []
    if KIND_EVENT in kinds:
        query = (
            select(literal_column(f"'{KIND_EVENT}'").label("kind"), Event.id, Event.latitude, Event.longitude)
            .join(Organisation, Organisation.id == Event.organisation_id)
            .where(
                Event.status == EventStatus.APPROVED.value,
                Event.starts_at >= bindparam("now", type_=Event.starts_at.type),
                Organisation.is_active.is_(True),
            )
        )
        if use_index:
            query = query.where(_range_condition(Event.geo_cell))
        else:
            query = query.where(Event.latitude.is_not(None), Event.longitude.is_not(None))
        if with_category:
            query = query.where(Event.category == bindparam("category"))
        parts.append(query)
    if KIND_ORGANISATION in kinds:
        query = select(
            literal_column(f"'{KIND_ORGANISATION}'").label("kind"),
            Organisation.id,
            Organisation.latitude,
            Organisation.longitude,
        ).where(Organisation.is_active.is_(True))
        if use_index:
            query = query.where(_range_condition(Organisation.geo_cell))
        else:
            query = query.where(Organisation.latitude.is_not(None), Organisation.longitude.is_not(None))
        if with_category:
            query = query.where(Organisation.category == bindparam("category"))
        parts.append(query)
    return parts[0] if len(parts) == 1 else union_all(*parts)


class DirectoryRepo:
    """Organisations and events as the directory sees them."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- organisations by key ----------------------------------------------------------

    async def organisation(self, organisation_id: int, *, include_inactive: bool = False) -> Organisation | None:
        """One organisation by id (active ones only unless asked)."""
        org = await self.session.get(Organisation, organisation_id)
        if org is None or (not org.is_active and not include_inactive):
            return None
        return org

    async def organisations_by_external_ids(self, external_ids: Iterable[str]) -> dict[str, Organisation]:
        """Organisations keyed by external_id, for the given ids that exist."""
        ids = sorted(set(external_ids))
        found: dict[str, Organisation] = {}
        for chunk in _chunks(ids):
            rows = await self.session.scalars(select(Organisation).where(Organisation.external_id.in_(chunk)))
            found.update((org.external_id, org) for org in rows if org.external_id is not None)
        return found

    async def upsert_organisation(self, external_id: str, **fields: Any) -> tuple[Organisation, bool]:
        """Create or update the organisation with this external_id; returns it and whether it is new."""
        org = (await self.organisations_by_external_ids([external_id])).get(external_id)
        created = org is None
        if org is None:
            org = Organisation(external_id=external_id)
            self.session.add(org)
        for name, value in fields.items():
            setattr(org, name, value)
        org.geo_cell = geo_cell_for(org.latitude, org.longitude)
        await self.session.flush()
        return org, created

    # --- nearby --------------------------------------------------------------------------

    async def _hits_within(
        self,
        lat: float,
        lon: float,
        radius_km: float,
        kinds: tuple[str, ...],
        category: str | None,
        now: datetime,
        *,
        use_index: bool = True,
    ) -> list[Hit]:
        params: dict[str, Any] = {"now": now}
        if category is not None:
            params["category"] = category
        if use_index:
            params.update(_range_params(ranges_covering(lat, lon, radius_km)))
        statement = _candidates_statement(kinds, use_index, category is not None)
        hits: list[Hit] = []
        for kind, row_id, row_lat, row_lon in await self.session.execute(statement, params):
            distance = haversine_km(lat, lon, row_lat, row_lon)
            if distance <= radius_km:
                hits.append(Hit(kind, row_id, distance))
        return hits

    async def nearby(
        self,
        lat: float,
        lon: float,
        radius_km: float,
        *,
        kinds: Sequence[str] = KINDS,
        category: str | None = None,
        now: datetime | None = None,
        offset: int = 0,
        limit: int = 20,
        with_total: bool = True,
        use_index: bool = True,
    ) -> NearbyResult:
        """Active organisations and upcoming approved events within radius_km, nearest first.

        `with_total` needs every point within the radius; without it a dense area is answered
        from a smaller circle.  `use_index=False` is the full scan the benchmark compares with.
        """
        now = now or utcnow()
        kinds = tuple(sorted(set(kinds)))
        needed = offset + limit + 1  # one more than the page tells whether a next page exists
        radius = radius_km
        if use_index and not with_total:
            radius = min(radius_km, max(MIN_START_KM, radius_km / START_FRACTION))
        while True:
            hits = await self._hits_within(lat, lon, radius, kinds, category, now, use_index=use_index)
            if len(hits) >= needed or radius >= radius_km:
                break
            # Too few: grow to where the density seen so far promises enough, within bounds so
            # an unlucky empty circle next to a dense city does not jump straight to everything.
            growth = math.sqrt(needed * OVERSAMPLE / len(hits)) if hits else MAX_GROWTH / 1.5
            radius = min(radius_km, radius * min(MAX_GROWTH, max(1.5, growth)))
        hits.sort(key=lambda hit: hit.sort_key)
        complete = radius >= radius_km
        return NearbyResult(
            hits=hits[offset : offset + limit],
            has_next=len(hits) > offset + limit,
            total=len(hits) if complete else None,
        )

    async def load(self, hits: Sequence[Hit]) -> tuple[dict[int, Organisation], dict[int, Event]]:
        """The rows behind hits, by id, with each event's organisation loaded."""
        org_ids = [hit.id for hit in hits if hit.kind == KIND_ORGANISATION]
        event_ids = [hit.id for hit in hits if hit.kind == KIND_EVENT]
        orgs: dict[int, Organisation] = {}
        events: dict[int, Event] = {}
        for chunk in _chunks(org_ids):
            orgs.update((o.id, o) for o in await self.session.scalars(select(Organisation).where(Organisation.id.in_(chunk))))
        for chunk in _chunks(event_ids):
            events.update((e.id, e) for e in await self.session.scalars(select(Event).where(Event.id.in_(chunk))))
        return orgs, events

    # --- text search ---------------------------------------------------------------------

    async def search_organisations(self, text: str, *, offset: int = 0, limit: int = 10) -> tuple[list[Organisation], int]:
        """Active organisations whose name, translated names, city or category match every word."""
        tokens = query_tokens(text)
        if not tokens:
            return [], 0
        phrase = "".join(tokens)
        rows = await self.session.execute(
            select(
                Organisation.id,
                Organisation.name,
                Organisation.name_translations,
                Organisation.city,
                Organisation.category,
            ).where(Organisation.is_active.is_(True))
        )
        ranked: list[tuple[int, str, int]] = []
        for org_id, name, translations, city, category in rows:
            names = [search_key(name)]
            if isinstance(translations, dict):
                names.extend(search_key(v) for v in translations.values() if isinstance(v, str))
            names_text = "|".join(names)
            haystack = "|".join([names_text, search_key(city or ""), search_key(category or "")])
            if not all(token in haystack for token in tokens):
                continue
            # Names starting with the query first, then names containing it, then city/category matches.
            if any(n.startswith(phrase) for n in names):
                rank = 0
            elif all(token in names_text for token in tokens):
                rank = 1
            else:
                rank = 2
            ranked.append((rank, names[0], org_id))
        ranked.sort()
        page_ids = [org_id for _, _, org_id in ranked[offset : offset + limit]]
        orgs, _ = await self.load([Hit(KIND_ORGANISATION, i, 0.0) for i in page_ids])
        return [orgs[i] for i in page_ids if i in orgs], len(ranked)

