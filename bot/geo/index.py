"""A small typo-tolerant key index shared by the city and country searches.

Keys are canonical search keys (see :func:`bot.geo.text.to_latin`); values are
integer *ranks* (lower = more important, e.g. position in a population-sorted
list).  Lookup order: exact key, then key prefix, then keys at edit distance 1,
then a cheap subset of distance 2.  Typo candidates are generated from the
query (Norvig-style) and looked up in the dict, so no extra memory is spent on
a fuzzy structure and every indexed spelling is typo-tolerant.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterable

from bot.geo.text import edits1, edits2_cheap, squeeze_doubles

__all__ = ["KeyIndex"]

Ranks = int | tuple[int, ...]

# Bounds that keep the worst case cheap whatever the user types.
_MAX_PREFIX_KEYS = 3000
_MAX_FUZZY_KEY_LEN = 32
_MIN_PREFIX_LEN = 2
_MIN_FUZZY1_LEN = 4
_MIN_FUZZY2_LEN = 7


def _as_tuple(v: Ranks) -> tuple[int, ...]:
    return (v,) if isinstance(v, int) else v


class KeyIndex:
    """Map canonical keys to ranks, with exact, prefix and fuzzy lookup."""

    __slots__ = ("_map", "_sorted")

    def __init__(self, mapping: dict[str, Ranks]) -> None:
        self._map = mapping
        # Sorted once so prefix lookups are a bisect plus a short scan.
        self._sorted: list[str] = sorted(mapping)

    def __len__(self) -> int:
        return len(self._map)

    def exact(self, key: str) -> tuple[int, ...]:
        """Ranks stored under exactly this key."""
        v = self._map.get(key)
        return () if v is None else _as_tuple(v)

    def prefix(self, key: str, limit: int) -> list[int]:
        """Best `limit` ranks among keys starting with `key` (excluding the key itself)."""
        keys = self._sorted
        i = bisect_left(keys, key)
        end = min(len(keys), i + _MAX_PREFIX_KEYS)
        found: set[int] = set()
        m = self._map
        while i < end and keys[i].startswith(key):
            if keys[i] != key:
                v = m[keys[i]]
                if isinstance(v, int):
                    found.add(v)
                else:
                    found.update(v)
            i += 1
        return heapq.nsmallest(limit, found)

    def _collect(self, candidates: Iterable[str]) -> set[int]:
        m = self._map
        found: set[int] = set()
        for c in candidates:
            v = m.get(c)
            if v is not None:
                if isinstance(v, int):
                    found.add(v)
                else:
                    found.update(v)
        return found

    def lookup(self, key: str, limit: int) -> list[int]:
        """Up to `limit` distinct ranks: exact, then prefix, then typo matches, each by rank."""
        if not key or limit <= 0:
            return []
        out: list[int] = []
        seen: set[int] = set()

        def take(ranks: Iterable[int]) -> bool:
            for r in ranks:
                if r not in seen:
                    seen.add(r)
                    out.append(r)
                    if len(out) >= limit:
                        return True
            return False

        if take(self.exact(key)):
            return out
        squeezed = squeeze_doubles(key)
        if squeezed != key and take(self.exact(squeezed)):
            return out
        if len(key) >= _MIN_PREFIX_LEN and take(self.prefix(key, limit + len(out))):
            return out
        if not _MIN_FUZZY1_LEN <= len(key) <= _MAX_FUZZY_KEY_LEN:
            return out
        first = edits1(key)
        if take(sorted(self._collect(first))):
            return out
        if len(key) >= _MIN_FUZZY2_LEN:
            take(sorted(self._collect(edits2_cheap(first) - first)))
        return out
