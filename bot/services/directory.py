"""The directory: organisations and upcoming events near a member, and search by name or city."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from db.directory_repo import KIND_EVENT, KIND_ORGANISATION, KINDS, DirectoryRepo
from db.models import Event, Organisation

from bot.geo import validate_coordinates
from bot.services.paging import Page
from bot.services.vocab import ORGANISATION_CATEGORIES  # noqa: F401  (old home)

__all__ = [
    "ORGANISATION_CATEGORIES",
    "KIND_EVENT",
    "KIND_ORGANISATION",
    "MIN_RADIUS_KM",
    "MAX_RADIUS_KM",
    "DirectoryItem",
    "DirectoryPage",
    "SearchPage",
    "nearby",
    "search",
    "get_organisation",
    "validate_radius",
]

MIN_RADIUS_KM = 1
MAX_RADIUS_KM = 500
MAX_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class DirectoryItem:
    """One line of a nearby list: an organisation or an event, with its distance."""

    kind: str
    id: int
    name: str
    distance_km: float
    city: str | None
    category: str | None
    starts_at: datetime | None = None
    timezone: str | None = None
    organisation_id: int | None = None
    organisation_name: str | None = None


DirectoryPage = Page[DirectoryItem]  # nearest first (names for annotations; pages are built as Page(...))
SearchPage = Page[Organisation]


def validate_radius(radius_km: float) -> float:
    """Return the radius as a float; raise ValueError outside 1–500 km."""
    try:
        value = float(radius_km)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"radius must be a number of km, got {radius_km!r}") from exc
    if not MIN_RADIUS_KM <= value <= MAX_RADIUS_KM:  # also rejects NaN
        raise ValueError(f"radius must be between {MIN_RADIUS_KM} and {MAX_RADIUS_KM} km, got {radius_km!r}")
    return value


def _check_page(offset: int, limit: int) -> None:
    if offset < 0 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"bad page: offset {offset}, limit {limit} (1..{MAX_PAGE_SIZE})")


async def nearby(
    session: AsyncSession,
    lat: float,
    lon: float,
    radius_km: float,
    *,
    kind: str | None = None,
    category: str | None = None,
    offset: int = 0,
    limit: int = 5,
    now: datetime | None = None,
) -> DirectoryPage:
    """Active organisations and upcoming approved events within radius_km, nearest first, one page."""
    lat, lon = validate_coordinates(lat, lon)
    radius = validate_radius(radius_km)
    _check_page(offset, limit)
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    repo = DirectoryRepo(session)
    result = await repo.nearby(
        lat,
        lon,
        radius,
        kinds=KINDS if kind is None else (kind,),
        category=category,
        now=now,
        offset=offset,
        limit=limit,
        with_total=True,
    )
    orgs, events = await repo.load(result.hits)
    items: list[DirectoryItem] = []
    for hit in result.hits:
        if hit.kind == KIND_ORGANISATION:
            org = orgs[hit.id]
            items.append(
                DirectoryItem(KIND_ORGANISATION, org.id, org.name, hit.distance_km, org.city, org.category)
            )
        else:
            ev = events[hit.id]
            host = await session.get(Organisation, ev.organisation_id)
            items.append(
                DirectoryItem(
                    KIND_EVENT,
                    ev.id,
                    ev.title,
                    hit.distance_km,
                    ev.city,
                    ev.category,
                    starts_at=ev.starts_at,
                    timezone=ev.timezone,
                    organisation_id=ev.organisation_id,
                    organisation_name=host.name if host else None,
                )
            )
    total = result.total if result.total is not None else offset + len(items) + int(result.has_next)
    return Page(items=items, total=total, offset=offset, limit=limit)


async def search(session: AsyncSession, text: str, *, limit: int = 10, offset: int = 0) -> SearchPage:
    """Active organisations whose name (any language), city or category matches every word of text."""
    _check_page(offset, limit)
    items, total = await DirectoryRepo(session).search_organisations(text, offset=offset, limit=limit)
    return Page(items=items, total=total, offset=offset, limit=limit)


async def get_organisation(session: AsyncSession, organisation_id: int) -> Organisation | None:
    """An active organisation by id, or None."""
    return await DirectoryRepo(session).organisation(organisation_id)


async def get_event(session: AsyncSession, event_id: int, *, now: datetime | None = None) -> Event | None:
    """An approved event by id (past ones included, for cards opened from old lists), or None."""
    event = await session.get(Event, event_id)
    if event is None or event.status != "approved":
        return None
    return event


def next_radius(radius_km: int, choices: tuple[int, ...]) -> int | None:
    """The next bigger radius to offer when nothing was found, or None at the largest."""
    bigger = [choice for choice in choices if choice > radius_km]
    return bigger[0] if bigger else None
