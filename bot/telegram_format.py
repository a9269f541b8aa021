"""Telegram-compatible parsing of formatted message text.

Shared by the sandbox (which answers like the Bot API) and by the bot itself (which checks
the secretariat's announcements before scheduling them, so a broadcast never fails for every
recipient at send time).

The real Bot API turns ``text`` + ``parse_mode`` into plain text plus a list of
``MessageEntity`` objects, and rejects malformed markup with
``400 Bad Request: can't parse entities: ...``.  This module re-implements that
behaviour (modelled on the observable behaviour of Telegram's server, error
texts included) so that markup bugs surface in the sandbox rather than in
production.

Offsets and lengths of entities are counted in UTF-16 code units, as Telegram
does.  Error messages quote *byte* offsets into the UTF-8 encoded text, as
Telegram does.

Deliberate deviation: with ``strict_html=True`` (the sandbox default) a bare
``&`` that does not start a supported HTML entity is rejected.  Real Telegram
silently keeps such an ampersand, but its documentation requires escaping it,
and an unescaped ``&`` almost always means user input was not escaped (which
*does* break as soon as the input contains ``<``).  Being stricter than
Telegram can only make bugs show up earlier; it never makes the bot depend on
something Telegram does not offer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EntityParseError", "FormattedText", "parse_formatted", "utf16_len"]

_HTML_TAGS = {
    "a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins",
    "tg-spoiler", "tg-emoji", "span", "pre", "code", "blockquote",
}
_TAG_TO_ENTITY = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic",
    "u": "underline", "ins": "underline", "s": "strikethrough",
    "strike": "strikethrough", "del": "strikethrough",
    "tg-spoiler": "spoiler", "span": "spoiler", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "a": "text_link", "tg-emoji": "custom_emoji",
}
# Telegram only knows these four named entities (plus numeric ones).
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE_BYTES = b" \t\r\n\v\0"
_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_STRIP_CHARS = " \t\r\n"


class EntityParseError(ValueError):
    """Markup could not be parsed; ``str(exc)`` is Telegram's detail text."""


@dataclass
class FormattedText:
    """Result of parsing: the plain text and its entities (UTF-16 offsets)."""

    plain: str
    entities: list[dict[str, Any]] = field(default_factory=list)


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units (Telegram's unit of length)."""
    return len(text.encode("utf-16-le")) // 2


def parse_formatted(
    text: str,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None = None,
    *,
    strict_html: bool = True,
) -> FormattedText:
    """Parse ``text`` the way the Bot API does for ``parse_mode``.

    Raises :class:`EntityParseError` for malformed markup and ``ValueError``
    ("unsupported parse_mode") for an unknown mode.  Leading and trailing
    whitespace is trimmed afterwards, as Telegram does.
    """
    mode = (parse_mode or "").strip()
    lowered = mode.lower()
    if not mode:
        result = FormattedText(text, [dict(e) for e in entities or []])
    elif lowered == "html":
        result = _parse_html(text, strict=strict_html)
    elif lowered == "markdownv2":
        result = _parse_markdown_v2(text)
    elif lowered == "markdown":
        result = _parse_markdown_legacy(text)
    else:
        raise ValueError("unsupported parse_mode")
    return _trim(result)


def _trim(result: FormattedText) -> FormattedText:
    """Strip surrounding whitespace and shift/clip entities accordingly."""
    plain = result.plain
    stripped_left = plain.lstrip(_STRIP_CHARS)
    shift = utf16_len(plain) - utf16_len(stripped_left)
    final = stripped_left.rstrip(_STRIP_CHARS)
    total = utf16_len(final)
    entities: list[dict[str, Any]] = []
    for ent in result.entities:
        start = max(int(ent.get("offset", 0)) - shift, 0)
        end = min(int(ent.get("offset", 0)) + int(ent.get("length", 0)) - shift, total)
        if end > start:
            entities.append({**ent, "offset": start, "length": end - start})
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return FormattedText(final, entities)


# --------------------------------------------------------------------------- HTML


class _Bytes:
    """Byte buffer with a C-like ``at()`` returning 0 past the end (as tdlib's NUL)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def at(self, i: int) -> int:
        return self.data[i] if i < len(self.data) else 0


def _is_space(c: int) -> bool:
    return c in _SPACE_BYTES


def _is_alpha(c: int) -> bool:
    return 65 <= c <= 90 or 97 <= c <= 122


def _is_digit(c: int) -> bool:
    return 48 <= c <= 57


def _decode_entity(buf: _Bytes, pos: int) -> tuple[str, int] | None:
    """Decode an HTML entity at ``pos`` (which holds '&'); return (char, new_pos)."""
    end = pos + 1
    code = 0
    if buf.at(end) == ord("#"):
        end += 1
        if buf.at(end) == ord("x"):
            end += 1
            while chr(buf.at(end)) in "0123456789abcdefABCDEF" and buf.at(end):
                code = code * 16 + int(chr(buf.at(end)), 16)
                end += 1
                if code >= 0x10FFFF:
                    return None
        else:
            while _is_digit(buf.at(end)):
                code = code * 10 + buf.at(end) - 48
                end += 1
                if code >= 0x10FFFF:
                    return None
        if code == 0 or end - pos >= 10 or 0xD800 <= code <= 0xDFFF:
            return None
        char = chr(code)
    else:
        while _is_alpha(buf.at(end)):
            end += 1
        name = buf.data[pos + 1 : end].decode("ascii", "replace")
        if name not in _NAMED_ENTITIES:
            return None
        char = _NAMED_ENTITIES[name]
    if buf.at(end) == ord(";"):
        end += 1
    return char, end


@dataclass
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    expandable: bool = False


def _parse_html(text: str, *, strict: bool) -> FormattedText:
    buf = _Bytes(text.encode("utf-8"))
    data = buf.data
    out = bytearray()
    utf16 = 0
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(data)

    def append_char(ch: str) -> None:
        nonlocal utf16
        out.extend(ch.encode("utf-8"))
        utf16 += utf16_len(ch)

    while i < n:
        c = data[i]
        if c == ord("&"):
            decoded = _decode_entity(buf, i)
            if decoded is not None:
                append_char(decoded[0])
                i = decoded[1]
                continue
            if strict:
                raise EntityParseError(
                    f"Unsupported HTML entity at byte offset {i}; "
                    "escape '&' as &amp; (sandbox strict mode)"
                )
        if c != ord("<"):
            out.append(c)
            # Count UTF-16 units on lead bytes only; 4-byte sequences are surrogate pairs.
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            i += 1
            continue

        begin = i
        i += 1
        if buf.at(i) != ord("/"):
            while not _is_space(buf.at(i)) and buf.at(i) != ord(">"):
                i += 1
            if buf.at(i) == 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            expandable = False
            while buf.at(i) != ord(">"):
                while buf.at(i) != 0 and _is_space(buf.at(i)):
                    i += 1
                if buf.at(i) == ord(">"):
                    break
                attr_begin = i
                while not _is_space(buf.at(i)) and buf.at(i) not in (ord("="), ord(">")):
                    i += 1
                attr_name = data[attr_begin:i].decode("utf-8", "replace")
                if not attr_name:
                    raise EntityParseError(
                        f'Empty attribute name in the tag "{tag}" at byte offset {begin}'
                    )
                while buf.at(i) != 0 and _is_space(buf.at(i)):
                    i += 1
                if buf.at(i) != ord("="):
                    if tag == "blockquote" and attr_name == "expandable":
                        expandable = True
                        continue
                    if buf.at(i) == 0:
                        raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                    raise EntityParseError(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while buf.at(i) != 0 and _is_space(buf.at(i)):
                    i += 1
                if buf.at(i) == 0:
                    raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if buf.at(i) not in (ord("'"), ord('"')):
                    token_begin = i
                    while (
                        _is_alpha(buf.at(i)) or _is_digit(buf.at(i)) or buf.at(i) in (ord("."), ord("-"))
                    ):
                        i += 1
                    value = data[token_begin:i].decode("utf-8", "replace").lower()
                    if not _is_space(buf.at(i)) and buf.at(i) != ord(">"):
                        raise EntityParseError(
                            f"Unexpected end of name token at byte offset {token_begin}"
                        )
                else:
                    quote = buf.at(i)
                    i += 1
                    value_bytes = bytearray()
                    while buf.at(i) != quote and buf.at(i) != 0:
                        if buf.at(i) == ord("&"):
                            decoded = _decode_entity(buf, i)
                            if decoded is not None:
                                value_bytes.extend(decoded[0].encode("utf-8"))
                                i = decoded[1]
                                continue
                        value_bytes.append(buf.at(i))
                        i += 1
                    if buf.at(i) == quote:
                        i += 1
                    value = value_bytes.decode("utf-8", "replace")
                if buf.at(i) == 0:
                    raise EntityParseError(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attr_name == "href":
                    argument = value
                elif tag == "code" and attr_name == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attr_name == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attr_name == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise EntityParseError(
                    f'Tag "span" must have class "tg-spoiler" at byte offset {begin}'
                )
            stack.append(_OpenTag(tag, argument, utf16, expandable))
            i += 1  # skip '>'
            continue

        # End tag.
        if not stack:
            raise EntityParseError(f"Unexpected end tag at byte offset {begin}")
        i += 1
        while not _is_space(buf.at(i)) and buf.at(i) != ord(">"):
            i += 1
        end_name = data[begin + 2 : i].decode("utf-8", "replace").lower()
        while _is_space(buf.at(i)) and buf.at(i) != 0:
            i += 1
        if buf.at(i) != ord(">"):
            raise EntityParseError(f"Unclosed end tag at byte offset {begin}")
        opened = stack.pop()
        if end_name and end_name != opened.name:
            raise EntityParseError(
                f'Unmatched end tag at byte offset {begin}, expected "</{opened.name}>", '
                f'found "</{end_name}>"'
            )
        i += 1
        length = utf16 - opened.utf16_offset
        if length > 0:
            entity = _html_entity(opened, length)
            if entity is not None:
                entities.append(entity)
    if stack:
        raise EntityParseError(
            f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        )
    _merge_pre_code(entities)
    return FormattedText(out.decode("utf-8"), entities)


def _html_entity(tag: _OpenTag, length: int) -> dict[str, Any] | None:
    kind = _TAG_TO_ENTITY[tag.name]
    entity: dict[str, Any] = {"type": kind, "offset": tag.utf16_offset, "length": length}
    if kind == "text_link":
        if not tag.argument:
            return None  # Telegram drops <a> without a usable href
        if tag.argument.startswith("tg://user?id="):
            entity = {**entity, "type": "text_mention"}
        entity["url"] = tag.argument
    elif kind == "code" and tag.argument:
        entity["language"] = tag.argument
    elif kind == "blockquote" and tag.expandable:
        entity["type"] = "expandable_blockquote"
    elif kind == "custom_emoji":
        entity["custom_emoji_id"] = tag.argument
    return entity


def _merge_pre_code(entities: list[dict[str, Any]]) -> None:
    """``<pre><code class="language-x">`` becomes one ``pre`` entity with a language."""
    for pre in [e for e in entities if e["type"] == "pre"]:
        for code in [e for e in entities if e["type"] == "code"]:
            if code["offset"] == pre["offset"] and code["length"] == pre["length"]:
                if "language" in code:
                    pre["language"] = code["language"]
                entities.remove(code)


# ----------------------------------------------------------------------- Markdown


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


_MDV2_NAMES = {
    "bold": "Bold", "italic": "Italic", "underline": "Underline",
    "strikethrough": "Strikethrough", "spoiler": "Spoiler", "text_link": "TextUrl",
}


def _parse_markdown_v2(text: str) -> FormattedText:
    """Parse MarkdownV2; every reserved character outside markup must be escaped."""
    out: list[str] = []
    utf16 = 0
    entities: list[dict[str, Any]] = []
    # Open entities: (type, utf16 offset, char index where it started)
    stack: list[tuple[str, int, int]] = []
    i = 0
    n = len(text)
    quote_start: int | None = None

    def emit(s: str) -> None:
        nonlocal utf16
        out.append(s)
        utf16 += utf16_len(s)

    while i < n:
        c = text[i]
        at_line_start = i == 0 or text[i - 1] == "\n"
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            emit(text[i + 1])
            i += 2
            continue
        if c == "\n" and quote_start is not None:
            # A quote ends at the line break unless the next line continues it.
            if not text.startswith(">", i + 1):
                entities.append({"type": "blockquote", "offset": quote_start,
                                 "length": utf16 - quote_start})
                quote_start = None
        if c not in _MDV2_RESERVED:
            emit(c)
            i += 1
            continue
        if c == ">" and at_line_start:
            if quote_start is None:
                quote_start = utf16
            i += 1
            continue
        if c == "`":
            is_pre = text.startswith("```", i)
            fence = "```" if is_pre else "`"
            start = i
            i += len(fence)
            language = ""
            if is_pre:
                line_end = text.find("\n", i)
                if line_end != -1 and all(ch.isalnum() or ch in "-_+#" for ch in text[i:line_end]):
                    language = text[i:line_end]
                    i = line_end + 1
            begin16 = utf16
            closed = False
            while i < n:
                if text[i] == "\\" and i + 1 < n:
                    emit(text[i + 1])
                    i += 2
                    continue
                if text.startswith(fence, i):
                    closed = True
                    i += len(fence)
                    break
                emit(text[i])
                i += 1
            if not closed:
                name = "Pre" if is_pre else "Code"
                raise EntityParseError(
                    f"Can't find end of {name} entity at byte offset {_byte_offset(text, start)}"
                )
            if utf16 > begin16:
                ent: dict[str, Any] = {"type": "pre" if is_pre else "code",
                                       "offset": begin16, "length": utf16 - begin16}
                if language:
                    ent["language"] = language
                entities.append(ent)
            continue
        kind: str | None = None
        width = 1
        if c == "*":
            kind = "bold"
        elif c == "_":
            if text.startswith("__", i) and not (stack and stack[-1][0] == "italic"):
                kind, width = "underline", 2
            else:
                kind = "italic"
        elif c == "~":
            kind = "strikethrough"
        elif c == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        elif c == "[":
            kind = "text_link"
        elif c == "]" and stack and stack[-1][0] == "text_link":
            kind = "text_link"
        if kind is None:
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        if stack and stack[-1][0] == kind and c != "[":
            _, begin16, _ = stack.pop()
            i += width
            entity: dict[str, Any] = {"type": kind, "offset": begin16, "length": utf16 - begin16}
            if kind == "text_link":
                url = ""
                if i < n and text[i] == "(":
                    close = i + 1
                    url_chars: list[str] = []
                    while close < n and text[close] != ")":
                        if text[close] == "\\" and close + 1 < n:
                            close += 1
                        url_chars.append(text[close])
                        close += 1
                    if close >= n:
                        raise EntityParseError(
                            f"Can't find end of a URL at byte offset {_byte_offset(text, i)}"
                        )
                    url = "".join(url_chars)
                    i = close + 1
                if not url:
                    continue  # "[text]" without a URL is plain text
                entity["url"] = url
            if entity["length"] > 0:
                entities.append(entity)
            continue
        if c == "]":
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        stack.append((kind, utf16, i))
        i += width
    if quote_start is not None:
        entities.append({"type": "blockquote", "offset": quote_start, "length": utf16 - quote_start})
    if stack:
        kind, _, start = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {_byte_offset(text, start)}"
        )
    return FormattedText("".join(out), entities)


def _parse_markdown_legacy(text: str) -> FormattedText:
    """Parse the legacy ``Markdown`` mode: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out: list[str] = []
    utf16 = 0
    entities: list[dict[str, Any]] = []
    i = 0
    n = len(text)

    def emit(s: str) -> None:
        nonlocal utf16
        out.append(s)
        utf16 += utf16_len(s)

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            emit(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            emit(c)
            i += 1
            continue
        start = i
        if c == "[":
            close = text.find("]", i + 1)
            if close == -1 or not text.startswith("(", close + 1) or text.find(")", close + 2) == -1:
                raise EntityParseError(
                    f"Can't find end of the entity starting at byte offset {_byte_offset(text, start)}"
                )
            url_end = text.find(")", close + 2)
            begin16 = utf16
            emit(text[i + 1 : close])
            if utf16 > begin16:
                entities.append({"type": "text_link", "offset": begin16,
                                 "length": utf16 - begin16, "url": text[close + 2 : url_end]})
            i = url_end + 1
            continue
        fence = "```" if text.startswith("```", i) else c
        close = text.find(fence, i + len(fence))
        if close == -1:
            raise EntityParseError(
                f"Can't find end of the entity starting at byte offset {_byte_offset(text, start)}"
            )
        begin16 = utf16
        emit(text[i + len(fence) : close])
        kind = {"*": "bold", "_": "italic", "`": "code", "```": "pre"}[fence]
        if utf16 > begin16:
            entities.append({"type": kind, "offset": begin16, "length": utf16 - begin16})
        i = close + len(fence)
    return FormattedText("".join(out), entities)
