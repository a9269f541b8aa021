"""Terminal chat against the sandbox (used by ``kardes demo``).

You type as a Telegram user; the bot's messages are printed as plain text with
their buttons numbered ``[1] Text  [2] Text``.  Typing a number presses that
button of the latest message with buttons.  Commands:

``/as ID [LANG]``   switch to user ID (optionally with a language code)
``/loc LAT LON``    share a location
``/say TEXT``       send TEXT literally (e.g. a number while buttons are shown)
``/group [TITLE]``  go to a demo supergroup (created with you in it and the bot added)
``/private``        back to the private chat
``/quit``           leave

In scripts, ``#`` lines are comments and blank lines are ignored.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from sandbox.client import Entry, SandboxChat, SandboxClient, SandboxClientError, SandboxUser

__all__ = ["run_terminal", "format_action"]

_INDENT = "     "
DEMO_GROUP_ID = -1001000000001


def _button_label(button: dict[str, Any]) -> str:
    label = str(button.get("text", ""))
    if button.get("request_location"):
        label += " (location)"
    elif button.get("request_contact"):
        label += " (contact)"
    elif "url" in button:
        label += f" ({button['url']})"
    return label


def _flat_buttons(entry: Entry) -> list[dict[str, Any]]:
    markup = entry.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    return [button for row in rows for button in row]


def _button_lines(entry: Entry) -> list[str]:
    """One line per keyboard row, numbered continuously across rows."""
    markup = entry.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    lines: list[str] = []
    number = 1
    for row in rows:
        cells = []
        for button in row:
            cells.append(f"[{number}] {_button_label(button)}")
            number += 1
        lines.append("  ".join(cells))
    return lines


def _body(entry: Entry) -> str:
    kind = entry.get("kind")
    plain = entry.get("plain") or ""
    if kind == "photo":
        return f"[photo] {plain}".rstrip()
    if kind == "document":
        document = entry.get("document") or {}
        head = f"[document {document.get('file_name', 'file')}, {document.get('file_size', 0)} bytes]"
        return f"{head} {plain}".rstrip()
    if kind == "venue":
        venue = entry.get("venue") or {}
        loc = venue.get("location") or {}
        return (f"[venue] {venue.get('title', '')}, {venue.get('address', '')} "
                f"({loc.get('latitude')}, {loc.get('longitude')})")
    if kind == "location":
        loc = entry.get("location") or {}
        return f"[location] {loc.get('latitude')}, {loc.get('longitude')}"
    return plain


def format_action(action: Entry) -> str:
    """Human-readable rendering of one bot action (message, edit, delete, callback answer)."""
    kind = action.get("action")
    if kind == "callback_answer":
        text = action.get("text")
        if not text:
            return ""  # a silent answer just stops the client's spinner
        return f"bot: [{'alert' if action.get('show_alert') else 'toast'}] {text}"
    if kind == "delete":
        return f"bot: (deleted message {action.get('message_id')})"
    body = _body(action)
    prefix = "bot: (edited) " if kind == "edit" else "bot: "
    lines = body.splitlines() or [""]
    out = [prefix + lines[0]] + [_INDENT + line for line in lines[1:]]
    out += [_INDENT + line for line in _button_lines(action)]
    markup = action.get("reply_markup") or {}
    if markup.get("remove_keyboard"):
        out.append(_INDENT + "(keyboard removed)")
    return "\n".join(out)


class _Terminal:
    def __init__(self, client: SandboxClient, out: TextIO, user: SandboxUser) -> None:
        self.client = client
        self.out = out
        self.user = user
        self.seen: dict[int, int] = {}  # chat_id -> last printed action seq
        self.group: SandboxChat | None = None  # None: the private chat

    @property
    def chat_id(self) -> int:
        return self.group.id if self.group is not None else self.user.id

    def print(self, text: str) -> None:
        if text:
            print(text, file=self.out, flush=True)

    async def show_new(self) -> None:
        """Print every bot action in the current chat not printed yet."""
        chat_id = self.chat_id
        actions = await self.client.actions(chat_id, since=self.seen.get(chat_id, 0))
        for action in actions:
            self.print(format_action(action))
            self.seen[chat_id] = max(self.seen.get(chat_id, 0), int(action["seq"]))

    async def latest_buttons(self) -> list[dict[str, Any]]:
        """Buttons of the latest (non-deleted) bot message with buttons."""
        for entry in reversed(await self.client.transcript(self.chat_id)):
            if entry.get("type") == "message" and not entry.get("deleted") and _flat_buttons(entry):
                markup = entry.get("reply_markup") or {}
                if "keyboard" in markup:
                    # A reply keyboard counts only while it is still displayed.
                    if await self.client.reply_keyboard(self.chat_id) != markup:
                        continue
                return [{**b, "_message_id": entry["message_id"], "_inline": "inline_keyboard" in markup}
                        for b in _flat_buttons(entry)]
        return []

    async def handle(self, line: str) -> bool:
        """Process one input line; return False to stop."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True
        parts = text.split()
        command = parts[0].lower()
        try:
            if command == "/quit":
                return False
            if command == "/as":
                if len(parts) < 2 or not parts[1].lstrip("-").isdigit():
                    self.print("usage: /as ID [LANG]")
                    return True
                user_id = int(parts[1])
                language = parts[2] if len(parts) > 2 else self.user.language_code
                self.user = SandboxUser(user_id, f"User{user_id}", language_code=language)
                await self.client.register(self.user)
                if self.group is not None:
                    await self.client.set_member(self.group, self.user, "member")
                self.print(f"(now user {user_id}, language {language or '-'})")
                await self.show_new()
                return True
            if command == "/group":
                title = text[len("/group"):].strip() or "Demo group"
                self.group = SandboxChat(DEMO_GROUP_ID, "supergroup", title)
                await self.client.create_chat(self.group, creator=self.user)
                await self.client.add_bot(self.group, by=self.user)
                self.print(f"(now in the supergroup {title!r} with the bot; /private to go back)")
                await self.show_new()
                return True
            if command == "/private":
                self.group = None
                self.print("(back in the private chat)")
                return True
            if command == "/loc":
                try:
                    lat, lon = float(parts[1]), float(parts[2])
                except (IndexError, ValueError):
                    self.print("usage: /loc LAT LON")
                    return True
                await self.client.share_location(self.user, lat, lon, chat=self.group)
            elif command == "/say":
                await self.client.send(self.user, text[len("/say"):].strip(), chat=self.group)
            elif text.isdigit() and await self._press_number(int(text)):
                pass
            else:
                await self.client.send(self.user, text, chat=self.group)
        except SandboxClientError as exc:
            self.print(f"(!) {exc}")
        await self.show_new()
        return True

    async def _press_number(self, number: int) -> bool:
        buttons = await self.latest_buttons()
        if not 1 <= number <= len(buttons):
            return False  # not a button number: send it as text
        button = buttons[number - 1]
        if button["_inline"]:
            if "callback_data" not in button:
                self.print(f"(!) button {number} opens {button.get('url', 'a link')}; nothing to press here")
                return True
            await self.client.press_data(self.user, button["_message_id"], button["callback_data"], chat=self.group)
        elif button.get("request_location"):
            self.print("(!) this button shares your location: use /loc LAT LON")
        elif button.get("request_contact"):
            self.print("(!) this button shares your contact; not supported in the terminal")
        else:
            await self.client.send(self.user, button["text"], chat=self.group)
        return True


async def run_terminal(
    client: SandboxClient,
    *,
    lines: Iterable[str] | None = None,
    out: TextIO = sys.stdout,
    user_id: int = 1001,
    language_code: str | None = None,
    first_name: str = "Demo",
) -> None:
    """Chat with the bot through the sandbox, interactively or from scripted ``lines``.

    Scripted lines are echoed as ``> line`` so the output reads as a dialogue.
    """
    terminal = _Terminal(client, out, SandboxUser(user_id, first_name, language_code=language_code))
    await client.register(terminal.user)
    if lines is not None:
        for line in lines:
            stripped = line.rstrip("\n")
            if stripped.strip() and not stripped.strip().startswith("#"):
                terminal.print(f"> {stripped}")
            if not await terminal.handle(stripped):
                break
        return
    terminal.print("Chatting with the bot. /as ID [LANG], /loc LAT LON, /say TEXT, /group, /private, /quit")
    while True:
        try:
            # input() blocks; run it in a thread so the event loop (and bot) keep going.
            line = await asyncio.to_thread(input, "> ")
        except (EOFError, KeyboardInterrupt):
            break
        if not await terminal.handle(line):
            break
