"""The spatial key in the `geo_cell` column: a quadtree over longitude/latitude, Z-ordered.

Why this shape
--------------
Nearby search must use an ordinary B-tree (the same on SQLite and PostgreSQL, no PostGIS), and
it must stay fast both for the bot's few thousand organisations and for a million clustered
places, for radii from 1 to 500 km.  A flat grid cannot do both: cells small enough to answer a
"20 nearest" query in a dense city (hundreds of metres) need thousands of cells for a 100 km
radius, and 0.2° cells (~22 km) make a dense city return tens of thousands of candidates.

So the column stores the finest cell of a quadtree (a *leaf*, ~2.4 m at level 24) and every
coarser cell is a contiguous range of leaf keys, thanks to Z-order (Morton) bit interleaving.
A query picks, per search, the finest level at which the circle's bounding box needs at most
`MAX_CELLS` cells (so a 25 km query in Berlin uses level 10, cells of 0.35°, 6-12 cells; a
500 km one uses level 6), and asks the index for one key range per cell (`BETWEEN lo AND hi`,
adjacent ranges merged).  The repository combines this with an expanding radius, so a dense
city is answered from a small circle and a sparse area from the full radius.

Layout of a cell id (S2-style, so one integer names a cell of any level):
latitude is mapped onto the same 360° span as longitude (only the middle half of the y range is
used), so a cell of level L is a square of 360/2^L degrees.  Its id is
``((morton << 1) | 1) << 2 * (LEVELS - L)``: the lowest set bit marks the level, and its leaves
are the ids from ``id - lsb + 1`` to ``id + lsb - 1``.  Leaf ids are below 2^49, far inside a
signed BigInteger.

Edges: longitudes wrap (a circle across the antimeridian covers cells on both sides); a circle
that contains a pole covers every longitude from its edge to the pole.  Cells narrow with
latitude, so at 70° a 25 km query just picks a coarser level; it never needs more than
`MAX_CELLS` cells.
"""

from __future__ import annotations

import math

__all__ = [
    "LEVELS",
    "MAX_CELLS",
    "cell_of",
    "cell_level",
    "cell_range",
    "cells_covering",
    "ranges_covering",
    "merge_ranges",
    "haversine_km",
    "cell_area_km2",
]

#: Finest level: cells of 360/2**24 degrees (about 2.4 m of latitude).
LEVELS = 24
#: Upper bound on cells per covering: few enough for one short OR of index range scans.
MAX_CELLS = 16
EARTH_RADIUS_KM = 6371.0088
# Float slack so a point exactly on the circle's edge is never lost to rounding.
_EPS_DEG = 1e-9


def _spread(v: int) -> int:
    """Insert a zero bit between the low 32 bits of v (the Morton building block)."""
    v &= 0xFFFFFFFF
    v = (v | (v << 16)) & 0x0000FFFF0000FFFF
    v = (v | (v << 8)) & 0x00FF00FF00FF00FF
    v = (v | (v << 4)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v << 2)) & 0x3333333333333333
    return (v | (v << 1)) & 0x5555555555555555


def _x(lon: float, level: int) -> int:
    n = 1 << level
    return int((lon + 180.0) / 360.0 * n) % n  # 180° is -180°


def _y(lat: float, level: int) -> int:
    n = 1 << level
    return min(int((lat + 180.0) / 360.0 * n), n - 1)


def _cell_id(x: int, y: int, level: int) -> int:
    return ((((_spread(y) << 1) | _spread(x)) << 1) | 1) << (2 * (LEVELS - level))


def cell_of(lat: float, lon: float) -> int:
    """The leaf cell id stored in `geo_cell` for a point (coordinates must be valid)."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"coordinates off the globe: {lat!r}, {lon!r}")
    return _cell_id(_x(lon, LEVELS), _y(lat, LEVELS), LEVELS)


def cell_level(cell: int) -> int:
    """The quadtree level of a cell id (LEVELS for a leaf)."""
    lsb = cell & -cell
    return LEVELS - (lsb.bit_length() - 1) // 2


def cell_range(cell: int) -> tuple[int, int]:
    """The inclusive range of leaf ids inside a cell: what `geo_cell BETWEEN lo AND hi` scans."""
    lsb = cell & -cell
    return cell - lsb + 1, cell + lsb - 1


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Unchecked great-circle distance (hot path: called for every candidate row)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, list[tuple[float, float]]]:
    """Latitude span and longitude intervals (split at ±180°) of a spherical circle."""
    ang = radius_km / EARTH_RADIUS_KM
    dlat = math.degrees(ang) + _EPS_DEG
    lat_lo, lat_hi = lat - dlat, lat + dlat
    if ang >= math.pi or lat_hi >= 90.0 or lat_lo <= -90.0:
        # The circle contains a pole: every meridian crosses it.
        return max(lat_lo, -90.0), min(lat_hi, 90.0), [(-180.0, 180.0)]
    # Widest longitude offset of a circle (reached north/south of its centre latitude).
    ratio = math.sin(ang) / math.cos(math.radians(lat))
    if ratio >= 1.0:
        return lat_lo, lat_hi, [(-180.0, 180.0)]
    dlon = math.degrees(math.asin(ratio)) + _EPS_DEG
    lon_lo, lon_hi = lon - dlon, lon + dlon
    if lon_lo < -180.0:
        return lat_lo, lat_hi, [(lon_lo + 360.0, 180.0), (-180.0, lon_hi)]
    if lon_hi > 180.0:
        return lat_lo, lat_hi, [(lon_lo, 180.0), (-180.0, lon_hi - 360.0)]
    return lat_lo, lat_hi, [(lon_lo, lon_hi)]


def _columns(intervals: list[tuple[float, float]], level: int) -> list[int]:
    n = 1 << level
    xs: set[int] = set()
    for lo, hi in intervals:
        if hi - lo >= 360.0:
            return list(range(n))
        x_lo = min(int((lo + 180.0) / 360.0 * n), n - 1)
        x_hi = min(int((hi + 180.0) / 360.0 * n), n - 1)
        xs.update(range(x_lo, x_hi + 1))
    return sorted(xs)


def cells_covering(lat: float, lon: float, radius_km: float, max_cells: int = MAX_CELLS) -> list[int]:
    """Cells (of one level, at most `max_cells`) whose union contains the circle, sorted by id."""
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise ValueError(f"coordinates off the globe: {lat!r}, {lon!r}")
    if radius_km < 0 or not math.isfinite(radius_km):
        raise ValueError(f"radius must be a non-negative number of km, got {radius_km!r}")
    lat_lo, lat_hi, intervals = _bounding_box(lat, lon, radius_km)
    height = lat_hi - lat_lo
    width = min(360.0, sum(hi - lo for lo, hi in intervals))
    # Start two levels finer than the box size and coarsen until the covering is small enough.
    start = min(LEVELS, max(1, int(math.log2(360.0 / max(height, width, 1e-9))) + 2))
    for level in range(start, 0, -1):
        rows = range(_y(lat_lo, level), _y(lat_hi, level) + 1)
        if len(rows) > max_cells:
            continue
        cols = _columns(intervals, level)
        if len(rows) * len(cols) <= max_cells:
            return sorted(_cell_id(x, y, level) for y in rows for x in cols)
    # Level 1 has four cells and always fits.
    return sorted(_cell_id(x, y, 1) for y in range(2) for x in range(2))


def merge_ranges(cells: list[int]) -> list[tuple[int, int]]:
    """Leaf-id ranges of the cells, adjacent ones merged (Z-order keeps siblings contiguous)."""
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted(cell_range(c) for c in cells):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def ranges_covering(lat: float, lon: float, radius_km: float, max_cells: int = MAX_CELLS) -> list[tuple[int, int]]:
    """The `geo_cell` ranges a nearby query scans for this circle."""
    return merge_ranges(cells_covering(lat, lon, radius_km, max_cells))


def cell_area_km2(cell: int) -> float:
    """Area of a cell on the sphere (used to turn index counts into a density)."""
    level = cell_level(cell)
    lsb = cell & -cell
    morton = (cell - lsb) >> (2 * (LEVELS - level) + 1)
    y = _compact(morton >> 1)
    size = 360.0 / (1 << level)
    lat_lo = max(-90.0, y * size - 180.0)
    lat_hi = min(90.0, (y + 1) * size - 180.0)
    if lat_hi <= lat_lo:
        return 0.0
    return EARTH_RADIUS_KM**2 * math.radians(size) * (math.sin(math.radians(lat_hi)) - math.sin(math.radians(lat_lo)))


def _compact(v: int) -> int:
    """Inverse of _spread: keep every other bit."""
    v &= 0x5555555555555555
    v = (v | (v >> 1)) & 0x3333333333333333
    v = (v | (v >> 2)) & 0x0F0F0F0F0F0F0F0F
    v = (v | (v >> 4)) & 0x00FF00FF00FF00FF
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFF
    return (v | (v >> 16)) & 0xFFFFFFFF


def geo_cell_for(latitude: float | None, longitude: float | None) -> int | None:
    """The spatial key for a row's coordinates (None when it has no location)."""
    if latitude is None or longitude is None:
        return None
    return cell_of(latitude, longitude)
