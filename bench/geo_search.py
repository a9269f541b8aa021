"""Benchmark bot.geo city search: prints one JSON line with latency, build time and memory.

Usage: python bench/geo_search.py
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _rss_mb() -> float:
    """Current resident set size in MB (Linux /proc; 0.0 elsewhere)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# What people type: exact names, other scripts/languages, and typos.
_EXACT = [
    "Istanbul", "İSTANBUL", "Ankara", "İzmir", "Bursa", "Antalya", "Konya", "Gaziantep", "Kayseri",
    "Almaty", "Astana", "Shymkent", "Karaganda", "Aktobe", "Taraz", "Pavlodar", "Oskemen",
    "Bishkek", "Osh", "Jalal-Abad", "Karakol", "Tashkent", "Samarkand", "Bukhara", "Namangan",
    "Andijan", "Fergana", "Nukus", "Ashgabat", "Mary", "Turkmenabat", "Baku", "Ganja", "Sumqayit",
    "Kazan", "Ufa", "Moscow", "Saint Petersburg", "Novosibirsk", "Yekaterinburg", "Berlin",
    "Hamburg", "Munich", "Köln", "Frankfurt am Main", "Stuttgart", "Düsseldorf", "Dortmund",
    "Essen", "Bremen", "Hannover", "Nürnberg", "Vienna", "Zurich", "Amsterdam", "Rotterdam",
    "Brussels", "Paris", "Lyon", "London", "Manchester", "Stockholm", "Oslo", "Copenhagen",
    "Warsaw", "Prague", "Budapest", "New York City", "Los Angeles", "Chicago", "Toronto",
    "Seoul", "Dubai", "Doha", "Tbilisi", "Kyiv", "Minsk", "Riga", "Vilnius", "Tallinn",
]
_OTHER_SCRIPT = [
    "Стамбул", "Анкара", "Алматы", "Алма-Ата", "Астана", "Шымкент", "Қарағанды", "Ақтөбе",
    "Бишкек", "Ош", "Жалал-Абад", "Ташкент", "Тошкент", "Самарканд", "Бухара", "Наманган",
    "Ашхабад", "Баку", "Гянджа", "Казань", "Уфа", "Москва", "Берлин", "Мюнхен", "Кёльн",
    "Гамбург", "Франкфурт", "Вена", "Париж", "Лондон", "Нью-Йорк", "Сеул", "Дубай", "Тбилиси",
    "Киев", "Минск", "Münih", "Viyana", "Londra", "Moskova", "Bakı", "Gəncə", "Daşkent",
    "Semerkant", "Buhara", "Aşgabat", "Toshkent", "Samarqand", "Buxoro", "Qarağandy", "Koeln",
    "Cologne", "Nuernberg", "Duesseldorf", "Muenchen", "Wien", "Frankfurt", "Alma ata",
]
_TYPOS = [
    "Berln", "Tashkend", "Almatty", "Bishkekk", "Istambul", "Ankra", "Izmirr", "Samarkant",
    "Buhkara", "Ashgabad", "Bakuu", "Kazahn", "Moskow", "Hamburgg", "Muncen", "Stutgart",
    "Dusseldorff", "Amsterdm", "Brussel", "Londn", "Parsi", "Warshaw", "Praha", "Budapesht",
    "Torronto", "Shimkent", "Karagandy", "Aktobé", "Naminagan", "Fergona", "Tbilissi", "Kiev",
    "Talinn", "Rigaa", "Viena", "Zurih", "Stokholm", "Kopenhagen", "Essenn", "Dortmunt",
]


def _queries(n: int, seed: int = 7) -> list[str]:
    base = _EXACT + _OTHER_SCRIPT + _TYPOS
    rng = random.Random(seed)
    out = base * (n // len(base) + 1)
    rng.shuffle(out)
    return out[:n]


def main() -> None:
    """Build the gazetteer, time a few hundred searches, print one JSON line."""
    import gc

    import bot.geo.gazetteer as gz

    gc.collect()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    gazetteer = gz.get_gazetteer()
    load_s = time.perf_counter() - t0
    gc.collect()
    rss_mb = _rss_mb() - rss0

    queries = _queries(600)
    timings: list[float] = []
    for q in queries:
        t = time.perf_counter()
        gazetteer.search(q)
        timings.append((time.perf_counter() - t) * 1000)
    timings.sort()
    p99 = timings[min(len(timings) - 1, int(round(0.99 * len(timings))) - 1)]
    print(
        json.dumps(
            {
                "queries": len(timings),
                "p50_ms": round(statistics.median(timings), 3),
                "p99_ms": round(p99, 3),
                "load_s": round(load_s, 3),
                "rss_mb": round(rss_mb, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
