"""Coordinate validation and great-circle distance (no external dependencies)."""

from __future__ import annotations

import math

__all__ = ["EARTH_RADIUS_KM", "validate_coordinates", "distance_km", "coarsen"]

#: Mean Earth radius (IUGG), good to ~0.5 % for haversine distances.
EARTH_RADIUS_KM = 6371.0088


def validate_coordinates(lat: float, lon: float) -> tuple[float, float]:
    """Return (lat, lon) as floats; raise ValueError unless finite and within ±90/±180."""
    try:
        flat = float(lat)
        flon = float(lon)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ValueError(f"coordinates must be numbers, got {lat!r}, {lon!r}") from exc
    # bool is an int subclass; a True/False coordinate is certainly a bug upstream.
    if isinstance(lat, bool) or isinstance(lon, bool):
        raise ValueError("coordinates must be numbers, not booleans")
    if not (math.isfinite(flat) and math.isfinite(flon)):
        raise ValueError(f"coordinates must be finite, got {lat!r}, {lon!r}")
    if not -90.0 <= flat <= 90.0:
        raise ValueError(f"latitude {flat} outside -90..90")
    if not -180.0 <= flon <= 180.0:
        raise ValueError(f"longitude {flon} outside -180..180")
    return flat, flon


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Unchecked haversine distance in km (hot path for nearest-city search)."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    # min() guards against h marginally > 1 from rounding for antipodal points.
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance in kilometres between two validated points."""
    lat1, lon1 = validate_coordinates(lat1, lon1)
    lat2, lon2 = validate_coordinates(lat2, lon2)
    return _haversine(lat1, lon1, lat2, lon2)


def coarsen(lat: float, lon: float) -> tuple[float, float]:
    """Round a location to 2 decimals (~1 km) so stored positions do not pinpoint a home."""
    lat, lon = validate_coordinates(lat, lon)
    # "+ 0.0" turns -0.0 into 0.0 so coarsened values compare/serialise cleanly.
    return round(lat, 2) + 0.0, round(lon, 2) + 0.0
