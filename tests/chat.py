"""What a user sees in a sandbox transcript: the helpers every chat test reads replies with.

Expectations are computed in the user's language with `tr(msgid, locale)`, never written as
English literals, so a test checks the translated text a member really gets.
"""

from __future__ import annotations

from typing import Any

from bot.i18n import create_i18n

Entry = dict[str, Any]

I18N = create_i18n()


def tr(text: str, locale: str = "en") -> str:
    """What a msgid reads like in a locale (the catalogues are compiled by `make test`)."""
    return I18N.gettext(text, locale=locale)


def ntr(singular: str, plural: str, count: int, locale: str = "en") -> str:
    """The plural form of a msgid for `count` in a locale."""
    return I18N.gettext(singular, plural, count, locale=locale)


def messages(entries: list[Entry]) -> list[Entry]:
    """The bot's messages among transcript entries or actions (not callback answers, not deleted ones)."""
    return [e for e in entries if e.get("type", "message") == "message" and not e.get("deleted")]


def texts(entries: list[Entry]) -> list[str]:
    """The text of each message as the user reads it (markup removed, entities unescaped)."""
    return [e.get("plain") or e.get("text") or "" for e in messages(entries)]


def plain(entries: list[Entry]) -> str:
    """All messages' texts, one per line."""
    return "\n".join(texts(entries))


def shown(entries: list[Entry]) -> Entry:
    """The newest message."""
    return messages(entries)[-1]


def alerts(entries: list[Entry]) -> list[str]:
    """Texts of the callback answers (toasts and alerts)."""
    return [e.get("text") or "" for e in entries if e.get("type") == "callback_answer" and e.get("text")]


def alert(entries: list[Entry]) -> str | None:
    """The newest callback answer's text, if any."""
    answers = [e for e in entries if e.get("type") == "callback_answer"]
    return answers[-1].get("text") if answers else None


def labels(entry: Entry) -> list[str]:
    """The labels of a message's inline buttons, row after row."""
    return [b["text"] for row in (entry.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


def first_button(entry: Entry) -> str:
    return labels(entry)[0]


def msgid_starting(prefix: str) -> str:
    """The one msgid of the catalogue template that starts with `prefix` (for long texts such as /help,
    so a test reads the catalogue instead of keeping a copy of the text)."""
    from pathlib import Path

    from babel.messages.pofile import read_po

    with (Path(__file__).resolve().parent.parent / "locales" / "messages.pot").open("rb") as handle:
        found = [m.id for m in read_po(handle) if isinstance(m.id, str) and m.id.startswith(prefix)]
    assert len(found) == 1, f"{len(found)} msgids start with {prefix!r}"
    return found[0]
