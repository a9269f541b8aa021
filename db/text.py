"""Text folding and Cyrillic/Latin transliteration for matching typed place names.

Two levels are provided:

* :func:`fold` keeps the script but removes everything people do not type
  consistently: case (with Turkish/Azerbaijani dotted and dotless i handled),
  diacritics, punctuation, hyphens and repeated spaces.
* :func:`to_latin` produces the *search key*: a lossy, phonetic-ish ASCII key
  in which the usual spellings of the same name in Russian, Kazakh, Kyrgyz,
  Uzbek, Turkish, Azerbaijani, Turkmen and English collide.  Both the indexed
  names and the user's query go through the same function, so the key only has
  to be consistent, not pretty.

Canonical key rules (applied after transliteration, on both sides):

* sh / ş / ш / щ -> ``s``; ch / ç / ч -> ``c``; kh / x / х / ҳ -> ``h``;
  zh / j / ж / dzh / dj / дж -> ``j``; gh / ğ / ғ -> ``g``; q / қ -> ``k``;
  w -> ``v``; y / ы / й / ı -> ``i`` (so "Kyzylorda", "Qyzylorda",
  "Кызылорда" and "Kızılorda" all give ``kizilorda``);
* ə / ә / ǝ -> ``e`` (the Turkish way of typing Azerbaijani names), ä -> ``a``;
* ö / ө / ў -> ``o``; ü / ү / ұ -> ``u``; ң -> ``ng``;
* apostrophes (O'zbekiston, Almatʻi) are dropped, all other punctuation and
  spaces are removed.  Doubled letters ("Almatty") are handled at query time,
  see :func:`squeeze_doubles`.

German transcriptions (Koeln for Köln) are not folded into the key, because
"oe"/"ue" are ordinary letter pairs in many languages; instead
:func:`key_variants` returns the extra "oe/ue/ae/ss" spelling for indexing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

__all__ = [
    "MAX_QUERY_CHARS",
    "fold",
    "to_latin",
    "key_variants",
    "keys_for_names",
    "squeeze_doubles",
    "edits1",
    "edits2_cheap",
]

#: Longer input is cut before any processing, so pathological input stays cheap.
MAX_QUERY_CHARS = 200

# --- fold table: same script, lower case, no diacritics ---------------------------

_APOSTROPHES = "'`´ʹʻʼʽʾʿ‘’‛′"
_SEPARATORS = "-‐‑‒–—―_.,;:/\\|()[]{}<>\"«»„“”!?¿¡*+=&#@~^%$"


def _build_fold_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    # Latin-1 supplement, Latin Extended-A/B and Latin Extended Additional:
    # decompose and keep the base letters.  Precomputing this keeps the hot path
    # a single str.translate call (no per-string NFKD).
    ranges = [range(0x41, 0x5B), range(0xC0, 0x250), range(0x1E00, 0x1F00)]
    for rng in ranges:
        for cp in rng:
            ch = chr(cp)
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            ).lower()
            if base != ch and base.isascii() and base.isalpha():
                table[cp] = base
    special = {
        # Turkish/Azerbaijani i: map before any lower() so "İ" never becomes "i̇".
        "I": "i", "İ": "i", "ı": "i",
        "ß": "ss", "ẞ": "ss", "Æ": "ae", "æ": "ae", "Œ": "oe", "œ": "oe",
        "Ø": "o", "ø": "o", "Đ": "d", "đ": "d", "Ł": "l", "ł": "l", "Þ": "th", "þ": "th",
        "Ð": "d", "ð": "d", "Ŋ": "ng", "ŋ": "ng", "Ħ": "h", "ħ": "h",
        # Schwa in its three code points (Azerbaijani Ə/ə, and the turned e ǝ seen in data).
        "Ə": "e", "ə": "e", "Ǝ": "e", "ǝ": "e",
    }
    for k, v in special.items():
        table[ord(k)] = v
    # Cyrillic: lower-case only (the script is kept by fold()).
    for cp in range(0x400, 0x530):
        ch = chr(cp)
        low = ch.lower()
        if low != ch and len(low) == 1:
            table[cp] = low
    table[ord("ё")] = "е"
    table[ord("Ё")] = "е"
    for ch in _APOSTROPHES:
        table[ord(ch)] = None
    for ch in _SEPARATORS:
        table[ord(ch)] = " "
    for cp in range(0x300, 0x370):  # stray combining marks, e.g. the dot of "i̇"
        table[cp] = None
    for cp in list(range(0x00, 0x20)) + [0x7F, 0xA0, 0x200B, 0x200C, 0x200D, 0xFEFF]:
        table[cp] = " "
    return table


_FOLD = _build_fold_table()

# --- latin table: from folded text to the canonical key alphabet -----------------

# Cyrillic letters map to the usual Latin digraphs (ш -> "sh", х -> "kh"); the digraph
# rules in _canon_digraphs() then reduce them exactly as they reduce typed Latin, so
# "Ашхабад" and "Ashkhabad" go through identical steps.
_CYRILLIC_TO_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ж": "zh", "з": "z",
    "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p",
    "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts", "ч": "ch",
    "ш": "sh", "щ": "shch", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    # Kazakh
    "ә": "e", "ғ": "g", "қ": "k", "ң": "ng", "ө": "o", "ұ": "u", "ү": "u", "һ": "h", "і": "i",
    # Uzbek
    "ў": "o", "ҳ": "h", "ҷ": "j",
    # Ukrainian / Belarusian / Serbian extras seen in the data
    "ї": "i", "є": "e", "ґ": "g", "ј": "j", "љ": "l", "њ": "n", "ђ": "j", "ћ": "c",
    "џ": "j", "ѕ": "z", "ќ": "k", "ѓ": "g", "ҙ": "z", "ҡ": "k", "ҫ": "s", "ӊ": "ng",
    "ӑ": "a", "ӗ": "e", "ӳ": "u", "ӧ": "o", "ӱ": "u", "ӓ": "a", "ӹ": "i",
}

# Single Latin letters whose common spellings differ between languages.
_LATIN_CANON = {"q": "k", "w": "v", "y": "i", "x": "kh"}


def _build_latin_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(k): v for k, v in _CYRILLIC_TO_LATIN.items()}
    for k, v in _LATIN_CANON.items():
        table[ord(k)] = v
    table[ord(" ")] = None  # keys ignore word boundaries: "Alma-Ata" == "almaata"
    return table


_LATIN = _build_latin_table()

# Direct table (fold + latin in one translate call) for the index build fast path.
_DIRECT: dict[int, str | None] = {}
for _cp, _v in _FOLD.items():
    _DIRECT[_cp] = _v.translate(_LATIN) if isinstance(_v, str) else None
for _cp, _v in _LATIN.items():
    _DIRECT.setdefault(_cp, _v)
for _ch in "АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ":
    _DIRECT[ord(_ch)] = _LATIN[ord(_ch.lower())]
for _cp in range(0x400, 0x530):
    _low = chr(_cp).lower()
    if ord(_low) in _LATIN:
        _DIRECT[_cp] = _LATIN[ord(_low)]
_DIRECT[ord("Ё")] = _DIRECT[ord("ё")] = "e"
for _ch in "QWYX":
    _DIRECT[ord(_ch)] = _LATIN_CANON[_ch.lower()]
_DIRECT[ord(" ")] = None
del _cp, _v, _ch, _low

_DOUBLES = re.compile(r"(.)\1+")


def _canon_digraphs(s: str) -> str:
    """Collapse Latin digraphs to the canonical letters (sh->s, kh->h, zh->j, ...)."""
    # The membership tests skip five replace() calls for most names (this runs
    # ~300 k times while the gazetteer is built).
    if "h" in s:
        s = (
            s.replace("zh", "j")
            .replace("kh", "h")
            .replace("sh", "s")
            .replace("ch", "c")
            .replace("gh", "g")
        )
    if "dj" in s:
        s = s.replace("dj", "j")
    return s


def squeeze_doubles(key: str) -> str:
    """Collapse doubled letters ("almatti" -> "almati"); used as a query-side variant.

    Doing this for every indexed name would cost ~0.4 s of build time, so the index
    keeps real doubles ("tallinn") and only the query gets this extra spelling; a
    missing double in the query is a distance-1 typo and found by the fuzzy tier.
    """
    return _DOUBLES.sub(r"\1", key)


def _slow_fold(s: str) -> str:
    """Unicode-general fallback for characters outside the precomputed table.

    ``s`` has already been through the fold table, so ASCII and Cyrillic letters are
    final and must be kept as they are (NFKD would turn "ў" into "у" + breve and
    "й" into "и" + breve, losing letters the transliteration distinguishes).
    """
    out: list[str] = []
    for ch in s:
        if ch.isascii() or "\u0400" <= ch <= "\u052f":
            out.append(ch)
            continue
        for part in unicodedata.normalize("NFKD", ch):
            cat = unicodedata.category(part)
            if cat[0] in "LN":
                out.append(part.casefold())
            elif cat[0] in "PZ" or cat == "Cc":
                out.append(" ")
            # Marks (diacritics), symbols (emoji), format and private-use chars are dropped.
    return "".join(out).translate(_FOLD)


def fold(text: str) -> str:
    """Lower-case, strip diacritics and punctuation, keep the script ("Alma-Ata" -> "alma ata")."""
    if not isinstance(text, str):
        return ""
    s = text[:MAX_QUERY_CHARS].translate(_FOLD)
    if not s.isascii():
        s = _slow_fold(s)
    return " ".join(s.split())


def to_latin(text: str) -> str:
    """Canonical ASCII search key: folded, transliterated, phonetically normalised."""
    s = fold(text).translate(_LATIN)
    if not s.isascii():
        # Letters from scripts we do not transliterate (Greek, Arabic, CJK...) are dropped;
        # if that leaves nothing the caller simply gets no matches.
        s = "".join(c for c in s if c.isascii())
    return _canon_digraphs(s)


def _strict_key(name: str) -> str | None:
    """Key for an indexed name, or None if it contains letters we cannot transliterate."""
    s = name.translate(_DIRECT)
    # Anything still non-ASCII is another script (Arabic, CJK, Greek...): our users
    # type Latin or Cyrillic, so such names are not indexed.  No slow Unicode
    # fallback here: it would run for ~100 k names at build time.
    if not s or not s.isascii():
        return None
    return _canon_digraphs(s)


#: Separator that survives the key table, so many names can be keyed in one call.
_SEP = "\n"
_DIRECT[ord(_SEP)] = _SEP


def keys_for_names(names: list[str]) -> set[str]:
    """All search keys (including German oe/ue/ae variants) for one place's names.

    Keys never contain whitespace, so callers may join them with "\t" or "\n".

    Equivalent to the union of :func:`key_variants` over ``names`` but processes
    the names joined into one string: a city has ~10 names and the build handles
    ~390 k of them, so per-name Python overhead dominates the build time.
    """
    joined = _SEP.join(names)
    if _GERMAN_RE.search(joined):
        joined = joined + _SEP + joined.translate(_GERMAN)
    converted = _canon_digraphs(joined.translate(_DIRECT))
    keys = set(converted.split(_SEP))
    keys.discard("")
    if not converted.isascii():
        # Names in scripts we do not transliterate still contain non-ASCII letters.
        keys = {k for k in keys if k.isascii()}
    return keys


_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})
_GERMAN_CHARS = frozenset("äöüÄÖÜ")
_GERMAN_RE = re.compile("[äöüÄÖÜ]")


def key_variants(name: str) -> list[str]:
    """Search keys under which an indexed name is stored (base key + German oe/ue/ae form)."""
    key = _strict_key(name)
    if key is None:
        return []
    if _GERMAN_CHARS.isdisjoint(name):
        return [key]
    alt = _strict_key(name.translate(_GERMAN))
    return [key] if alt is None or alt == key else [key, alt]


# --- typo candidates ----------------------------------------------------------------

#: Letters that can occur in a canonical key (q, w, x, y are mapped away).
KEY_ALPHABET = "abcdefghijklmnoprstuvz"


def edits1(word: str) -> set[str]:
    """All strings at Damerau-Levenshtein distance 1 over the key alphabet."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = [a + b[1:] for a, b in splits if b]
    transposes = [a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1]
    replaces = [a + c + b[1:] for a, b in splits if b for c in KEY_ALPHABET]
    inserts = [a + c + b for a, b in splits for c in KEY_ALPHABET]
    return set(deletes + transposes + replaces + inserts)


def _deletes_and_transposes(word: str) -> Iterable[str]:
    for i in range(len(word)):
        yield word[:i] + word[i + 1 :]
    for i in range(len(word) - 1):
        yield word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def edits2_cheap(first: Iterable[str]) -> set[str]:
    """Second-order edits restricted to deletions/transpositions (cheap distance-2 probe)."""
    out: set[str] = set()
    for w in first:
        out.update(_deletes_and_transposes(w))
    return out
