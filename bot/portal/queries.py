"""What the portal reads: listed organisations and approved upcoming events, nothing about members.

Directory search keeps a small in-process index of the active organisations' folded names,
cities and filters (rebuilt at most every PORTAL_CACHE_SECONDS), so a cross-script search over
10 000 organisations is a scan of Python tuples, not of the table.  Events are filtered in SQL on
the (status, starts_at) index; a city typed in any script is matched by comparing folded keys
against the distinct city names, which become an IN (...) list.
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import String, cast, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.directory import ORGANISATION_CATEGORIES
from bot.services.events import EVENT_CATEGORIES, EVENT_LANGUAGES
from db.directory_repo import query_tokens, search_key
from db.models import Event, EventStatus, Organisation

PAGE_SIZE = 20
MAX_PAGE = 10_000
MAX_QUERY = 200
FEED_LIMIT = 500
FEED_PAST = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class OrgEntry:
    id: int
    sort_key: str
    names: tuple[str, ...]
    city_key: str
    category: str
    country: str
    languages: tuple[str, ...]
    names_text: str  # the folded names joined by "|"
    haystack: str  # names, city and category, folded


@dataclass(frozen=True, slots=True)
class EventEntry:
    starts_at: datetime
    id: int
    organisation_id: int
    country: str
    city_key: str
    category: str
    languages: tuple[str, ...]


@dataclass(slots=True)
class EventIndex:
    entries: list[EventEntry] = field(default_factory=list)
    starts: list[datetime] = field(default_factory=list)
    built_at: float = 0.0
    countries: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DirectoryIndex:
    entries: list[OrgEntry] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    built_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Filters:
    """Validated filters: anything not recognised is dropped, never an error."""

    q: str = ""
    country: str = ""
    city: str = ""
    category: str = ""
    language: str = ""
    organisation: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None

    def as_query(self) -> dict[str, str]:
        values = {"q": self.q, "country": self.country, "city": self.city, "category": self.category,
                  "language": self.language}
        if self.organisation:
            values["organisation"] = str(self.organisation)
        if self.date_from:
            values["from"] = self.date_from.strftime("%Y-%m-%d")
        if self.date_to:
            values["to"] = (self.date_to - timedelta(days=1)).strftime("%Y-%m-%d")
        return {key: value for key, value in values.items() if value}


def clean_text(value: str | None, limit: int = MAX_QUERY) -> str:
    text = "".join(ch for ch in (value or "") if ch.isprintable())
    return " ".join(text.split())[:limit]


def _day(value: str | None) -> datetime | None:
    try:
        return datetime.strptime((value or "").strip(), "%Y-%m-%d")
    except ValueError:
        return None


def parse_filters(query: dict[str, str] | object, *, events: bool = False) -> Filters:
    """Filters from a query string; junk values become "no filter"."""
    get = query.get  # type: ignore[attr-defined]
    country = clean_text(get("country"), 2).upper()
    category = clean_text(get("category"), 32)
    categories = EVENT_CATEGORIES if events else ORGANISATION_CATEGORIES
    language = clean_text(get("language"), 8)
    organisation = clean_text(get("organisation"), 12)
    date_from, date_to = _day(get("from")), _day(get("to"))
    if date_to is not None:
        date_to = date_to + timedelta(days=1) if date_to < datetime.max - timedelta(days=1) else None
    return Filters(
        q=clean_text(get("q")),
        country=country if len(country) == 2 and country.isalpha() and country.isascii() else "",
        city=clean_text(get("city"), 120),
        category=category if category in categories else "",
        language=language if language in EVENT_LANGUAGES else "",
        organisation=int(organisation) if organisation.isascii() and organisation.isdigit() and 0 < int(organisation) < 2**31 else None,
        date_from=date_from,
        date_to=date_to,
    )


def parse_page(value: str | None) -> int:
    text = (value or "").strip()
    return min(int(text), MAX_PAGE) if text.isascii() and text.isdigit() and 0 < len(text) <= 6 and int(text) > 0 else 1


def _languages_like(column: object, code: str) -> object:
    # JSON lists are stored as text on SQLite and as json on PostgreSQL: match the quoted code.
    return cast(column, String).like(f'%"{code}"%')


class PortalData:
    """The portal's queries over one session factory (plus the directory index it keeps)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], cache_seconds: float = 30.0) -> None:
        self.session_factory = session_factory
        self.cache_seconds = cache_seconds
        self._index = DirectoryIndex()
        self._events = EventIndex()
        self._lock = asyncio.Lock()
        self._refreshing: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- the directory -------------------------------------------------------------------

    async def _fresh(self, name: str, build: Any) -> Any:
        """A cached snapshot: built on first use, then rebuilt in the background once it is stale."""
        current = getattr(self, name)
        if current.built_at and time.monotonic() - current.built_at < self.cache_seconds:
            return current
        if current.built_at and self.cache_seconds > 0:
            if name not in self._refreshing:
                self._refreshing.add(name)

                async def refresh() -> None:
                    try:
                        setattr(self, name, await build())
                    finally:
                        self._refreshing.discard(name)

                self._tasks.add(task := asyncio.create_task(refresh()))
                task.add_done_callback(self._tasks.discard)
            return current  # the reader gets the snapshot that is a few seconds old
        async with self._lock:
            current = getattr(self, name)
            if current.built_at and time.monotonic() - current.built_at < self.cache_seconds:
                return current
            setattr(self, name, await build())
            return getattr(self, name)

    async def directory_index(self) -> DirectoryIndex:
        return await self._fresh("_index", self._build_directory)  # type: ignore[no-any-return]

    async def event_index(self) -> EventIndex:
        return await self._fresh("_events", self._build_events)  # type: ignore[no-any-return]

    async def _build_directory(self) -> DirectoryIndex:
        async with self.session_factory() as session:
            rows = (await session.execute(
                select(Organisation.id, Organisation.name, Organisation.name_translations, Organisation.city,
                       Organisation.category, Organisation.country_code, Organisation.languages)
                .where(Organisation.is_active.is_(True))
            )).all()
        return await asyncio.to_thread(self._directory_from_rows, rows)  # CPU work off the event loop

    @staticmethod
    def _directory_from_rows(rows: Sequence[Any]) -> DirectoryIndex:
        entries = []
        for org_id, name, translations, city, category, country, languages in rows:
            names = [search_key(name)]
            if isinstance(translations, dict):
                names.extend(search_key(v) for v in translations.values() if isinstance(v, str))
            names_text = "|".join(names)
            city_key = search_key(city or "")
            entries.append(OrgEntry(org_id, names[0] + f"\x00{org_id:010d}", tuple(names), city_key,
                                    category or "", (country or "").upper(),
                                    tuple(str(code) for code in (languages or [])), names_text,
                                    f"{names_text}|{city_key}|{search_key(category or '')}"))
        entries.sort(key=lambda entry: entry.sort_key)
        return DirectoryIndex(entries, sorted({e.country for e in entries if e.country}), time.monotonic())

    async def _build_events(self) -> EventIndex:
        since = datetime.now(timezone.utc) - timedelta(hours=1)
        async with self.session_factory() as session:
            rows = (await session.execute(
                select(Event.starts_at, Event.id, Event.organisation_id, Event.country_code, Event.city, Event.category,
                       Event.languages)
                .join(Organisation, Organisation.id == Event.organisation_id)
                .where(Event.status == EventStatus.APPROVED.value, Event.starts_at >= since,
                       Organisation.is_active.is_(True))
            )).all()
        return await asyncio.to_thread(self._events_from_rows, rows)

    @staticmethod
    def _events_from_rows(rows: Sequence[Any]) -> EventIndex:
        entries = sorted(
            (EventEntry(starts_at, event_id, org_id, (country or "").upper(), search_key(city or ""), category or "",
                        tuple(str(code) for code in (languages or [])))
             for starts_at, event_id, org_id, country, city, category, languages in rows),
            key=lambda entry: (entry.starts_at, entry.id))
        return EventIndex(entries, [entry.starts_at for entry in entries], time.monotonic(),
                          sorted({entry.country for entry in entries if entry.country}))

    async def search_directory(self, filters: Filters, page: int) -> tuple[list[Organisation], int, int]:
        """One page of organisations matching the filters, the total, and the page actually shown."""
        index = await self.directory_index()
        tokens = query_tokens(filters.q) if filters.q else []
        phrase = "".join(tokens)
        city_key = search_key(filters.city) if filters.city else ""
        # Narrowest test first, one pass per condition (list comprehensions: ~0.5 ms per 10 000).
        entries = index.entries
        for token in tokens:
            entries = [e for e in entries if token in e.haystack]
        entries = _by_place_category_language(entries, filters, city_key)
        if tokens:  # names starting with the query, then names containing it, then city/category matches
            entries = [e for _rank, _key, e in sorted(
                (0 if any(name.startswith(phrase) for name in e.names) else
                 1 if all(token in e.names_text for token in tokens) else 2, e.sort_key, e) for e in entries)]
        total = len(entries)  # without a query: already in name order
        pages = max(1, -(-total // PAGE_SIZE))
        page = min(page, pages)
        ids = [e.id for e in entries[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
        if not ids:
            return [], total, page
        async with self.session_factory() as session:
            found = {org.id: org for org in await session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}
        return [found[i] for i in ids if i in found], total, page

    async def organisation(self, organisation_id: int) -> Organisation | None:
        async with self.session_factory() as session:
            org = await session.get(Organisation, organisation_id)
        return org if org is not None and org.is_active else None

    # --- events --------------------------------------------------------------------------

    async def _city_names(self, session: AsyncSession, city: str) -> list[str]:
        """The stored spellings of events' cities that fold to the same key as `city`."""
        key = search_key(city)
        names = await session.scalars(select(Event.city).where(Event.status == EventStatus.APPROVED.value,
                                                                Event.city.is_not(None)).distinct())
        return [name for name in names if search_key(name) == key]

    def _event_conditions(self, filters: Filters, now: datetime, cities: Sequence[str] | None) -> list[object]:
        start = max(now, filters.date_from.replace(tzinfo=now.tzinfo)) if filters.date_from else now
        conditions: list[object] = [Event.status == EventStatus.APPROVED.value, Event.starts_at >= start,
                                    Organisation.is_active.is_(True)]
        if filters.date_to:
            conditions.append(Event.starts_at < filters.date_to.replace(tzinfo=now.tzinfo))
        if filters.country:
            conditions.append(Event.country_code == filters.country)
        if filters.category:
            conditions.append(Event.category == filters.category)
        if filters.language:
            conditions.append(_languages_like(Event.languages, filters.language))
        if filters.organisation:
            conditions.append(Event.organisation_id == filters.organisation)
        if cities is not None:
            conditions.append(Event.city.in_(list(cities) or [""]))
        return conditions

    async def events(self, filters: Filters, page: int, now: datetime, page_size: int = PAGE_SIZE
                     ) -> tuple[list[tuple[Event, Organisation]], int, int]:
        """Upcoming approved events of active organisations, soonest first; total; page shown."""
        index = await self.event_index()
        start = max(now, filters.date_from.replace(tzinfo=now.tzinfo)) if filters.date_from else now
        end = filters.date_to.replace(tzinfo=now.tzinfo) if filters.date_to else None
        city_key = search_key(filters.city) if filters.city else ""
        first = bisect.bisect_left(index.starts, start)
        last = bisect.bisect_left(index.starts, end) if end is not None else len(index.entries)
        entries = index.entries[first:last]
        if filters.organisation:
            entries = [e for e in entries if e.organisation_id == filters.organisation]
        entries = _by_place_category_language(entries, filters, city_key)
        matched = entries
        total = len(matched)
        pages = max(1, -(-total // page_size))
        page = min(page, pages)
        ids = [e.id for e in matched[(page - 1) * page_size: page * page_size]]
        if not ids:
            return [], total, page
        async with self.session_factory() as session:
            rows = (await session.execute(
                select(Event, Organisation).join(Organisation, Organisation.id == Event.organisation_id)
                .where(Event.id.in_(ids), Event.status == EventStatus.APPROVED.value)
            )).all()
        found = {event.id: (event, org) for event, org in rows}
        return [found[i] for i in ids if i in found], total, page

    async def event(self, event_id: int) -> tuple[Event, Organisation] | None:
        """An approved (or cancelled) event of an active organisation."""
        async with self.session_factory() as session:
            row = (await session.execute(
                select(Event, Organisation).join(Organisation, Organisation.id == Event.organisation_id)
                .where(Event.id == event_id, Event.status.in_((EventStatus.APPROVED.value, EventStatus.CANCELLED.value)),
                       Organisation.is_active.is_(True))
            )).first()
        return (row[0], row[1]) if row else None

    async def feed_events(self, filters: Filters, now: datetime) -> list[tuple[Event, Organisation]]:
        """A public feed: approved and cancelled events from a week ago on, at most FEED_LIMIT."""
        async with self.session_factory() as session:
            cities = await self._city_names(session, filters.city) if filters.city else None
            conditions = self._event_conditions(filters, now - FEED_PAST, cities)
            conditions[0] = Event.status.in_((EventStatus.APPROVED.value, EventStatus.CANCELLED.value))
            rows = (await session.execute(
                select(Event, Organisation).join(Organisation, Organisation.id == Event.organisation_id)
                .where(*conditions).order_by(Event.starts_at, Event.id).limit(FEED_LIMIT)
            )).all()
        return [(event, org) for event, org in rows]

    async def event_countries(self, now: datetime) -> list[str]:
        return (await self.event_index()).countries

    # --- the sitemap ---------------------------------------------------------------------

    async def sitemap_ids(self, now: datetime, limit: int) -> tuple[list[int], list[int]]:
        """Ids of listed organisations and upcoming events (sample data left out)."""
        async with self.session_factory() as session:
            orgs = list(await session.scalars(select(Organisation.id).where(
                Organisation.is_active.is_(True), Organisation.is_sample.is_(False)).order_by(Organisation.id).limit(limit)))
            events = list(await session.scalars(
                select(Event.id).join(Organisation, Organisation.id == Event.organisation_id).where(
                    Event.status == EventStatus.APPROVED.value, Event.starts_at >= now, Event.is_sample.is_(False),
                    Organisation.is_active.is_(True)).order_by(Event.starts_at).limit(max(0, limit - len(orgs)))))
        return orgs, events


def _by_place_category_language(entries: list[Any], filters: Filters, city_key: str) -> list[Any]:
    """The filters organisations and events share, one pass per condition given."""
    if filters.country:
        entries = [e for e in entries if e.country == filters.country]
    if filters.category:
        entries = [e for e in entries if e.category == filters.category]
    if filters.language:
        entries = [e for e in entries if filters.language in e.languages]
    if city_key:
        entries = [e for e in entries if e.city_key == city_key]
    return entries
