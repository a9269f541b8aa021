"""HTTP client for the sandbox control API: act as Telegram users, read transcripts.

Used by tests and by the terminal chat (``sandbox.terminal``)::

    async with SandboxClient(server.base_url) as client:
        alice = SandboxUser(1001, "Alice", language_code="tr")
        actions = await client.send(alice, "/start")
        actions = await client.press(alice, "Yes")

    Groups, supergroups and channels::

        group = SandboxChat(-1001234567890, "supergroup", "Berlin Kazakhs")
        await client.create_chat(group, members=[alice])
        await client.add_bot(group, by=alice)                 # my_chat_member: left -> member
        actions = await client.send(alice, "/help@kardes_sandbox_bot", chat=group)
        actions = await client.press(alice, "🗺 Map", chat=group)
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import aiohttp

__all__ = ["SandboxChat", "SandboxClient", "SandboxClientError", "SandboxUser"]

Entry = dict[str, Any]


class SandboxClientError(RuntimeError):
    """The control API refused a request (e.g. pressing a button that does not exist)."""


@dataclass
class SandboxUser:
    """A Telegram user; their private chat with the bot has ``chat_id == id``."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"

    def profile(self) -> dict[str, Any]:
        """Profile fields sent along with every action (keeps the server in sync)."""
        data = asdict(self)
        data.pop("id")
        return {k: v for k, v in data.items() if v is not None}


@dataclass
class SandboxChat:
    """A group, supergroup or channel; its id is negative (supergroups and channels: -100...)."""

    id: int
    type: str = "supergroup"
    title: str | None = None
    username: str | None = None
    is_forum: bool = False


ChatRef = SandboxChat | int | None


def _chat_id(chat: ChatRef, user: SandboxUser) -> int:
    if chat is None:
        return user.id
    return chat.id if isinstance(chat, SandboxChat) else int(chat)


class SandboxClient:
    """Talks to :class:`sandbox.server.SandboxServer` over HTTP."""

    def __init__(self, base_url: str, *, settle: float = 0.3, timeout: float = 10.0) -> None:
        """``settle``/``timeout`` are the defaults for waiting on the bot's reaction."""
        self.base_url = base_url.rstrip("/")
        self.settle = settle
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the underlying HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ transport

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                       timeout: float | None = None) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        client_timeout = aiohttp.ClientTimeout(total=(timeout or self.timeout) + 30)
        async with self._session.request(method, self.base_url + path, json=body,
                                         timeout=client_timeout) as resp:
            data = await resp.json(content_type=None)
        if not isinstance(data, dict) or not data.get("ok"):
            error = data.get("error") if isinstance(data, dict) else data
            raise SandboxClientError(f"{method} {path}: {error}")
        return data

    async def _act(self, path: str, body: dict[str, Any], chat_id: int,
                   settle: float | None, timeout: float | None) -> list[Entry]:
        """Perform an inbound action, then wait for and return the bot's reaction."""
        created = await self._request("POST", path, body)
        if created.get("update_id") is None:
            # The bot's allowed_updates filtered it out: Telegram never delivers it.
            return []
        return await self.wait(chat_id, since=int(created["seq"]), update_id=created["update_id"],
                               settle=settle, timeout=timeout)

    async def wait(self, chat_id: int, *, since: int, update_id: int | None = None,
                   settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Wait for the bot to act in ``chat_id`` after action ``since``; see server docs."""
        timeout = self.timeout if timeout is None else timeout
        data = await self._request("POST", "/sandbox/wait", {
            "chat_id": chat_id, "since": since, "update_id": update_id,
            "settle": self.settle if settle is None else settle, "timeout": timeout,
        }, timeout=timeout)
        return list(data["actions"])

    async def idle(self, timeout: float | None = None) -> bool:
        """Wait until the bot has fetched (and, in-process, handled) every queued update."""
        timeout = self.timeout if timeout is None else timeout
        data = await self._request("POST", "/sandbox/idle", {"timeout": timeout, "settle": self.settle},
                                   timeout=timeout)
        return bool(data["idle"])

    # ------------------------------------------------------------ user actions

    async def inject(self, kind: str, body: Any, chat_id: int | None = None, *,
                     settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Queue a raw update (even a malformed one) and wait for the bot's reaction in ``chat_id``."""
        created = await self._request("POST", "/sandbox/updates", {"kind": kind, "body": body, "chat_id": chat_id})
        if chat_id is None or created.get("update_id") is None:
            return []
        return await self.wait(chat_id, since=int(created["seq"]), update_id=created["update_id"],
                               settle=settle, timeout=timeout)

    async def register(self, user: SandboxUser) -> None:
        """Create/update the user's profile without sending anything."""
        await self._request("POST", f"/sandbox/users/{user.id}", user.profile())

    async def send(self, user: SandboxUser, text: str, *, reply_to_message_id: int | None = None,
                   chat: ChatRef = None, thread_id: int | None = None, settle: float | None = None,
                   timeout: float | None = None) -> list[Entry]:
        """Send ``text`` as ``user`` (in the private chat, or in the group ``chat``); return the bot's new actions there.

        Returns after the bot reacted and was quiet for ``settle`` seconds, or after
        ``timeout`` with whatever happened (possibly ``[]``: "the bot said nothing").
        """
        chat_id = _chat_id(chat, user)
        body: dict[str, Any] = {"text": text, **user.profile()}
        if chat is not None:
            body["chat_id"] = chat_id
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        if thread_id is not None:
            body["thread_id"] = thread_id  # a forum topic
        return await self._act(f"/sandbox/users/{user.id}/message", body, chat_id, settle, timeout)

    async def share_location(self, user: SandboxUser, latitude: float, longitude: float, *, chat: ChatRef = None,
                             settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Share a location as ``user`` (what a request_location button sends; or in the group ``chat``)."""
        chat_id = _chat_id(chat, user)
        body: dict[str, Any] = {"latitude": latitude, "longitude": longitude, **user.profile()}
        if chat is not None:
            body["chat_id"] = chat_id
        return await self._act(f"/sandbox/users/{user.id}/location", body, chat_id, settle, timeout)

    async def share_contact(self, user: SandboxUser, phone_number: str, *,
                            settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Share the user's own contact (what a request_contact button sends)."""
        body = {"phone_number": phone_number, **user.profile()}
        return await self._act(f"/sandbox/users/{user.id}/contact", body, user.id, settle, timeout)

    async def press(self, user: SandboxUser, button_text: str, message_id: int | None = None, *, chat: ChatRef = None,
                    settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Press the button labelled ``button_text`` and return the bot's reaction.

        Inline buttons are looked up on ``message_id`` or else on the newest bot
        message having one with that label; a reply-keyboard button sends its label
        as a text message.  Request-location/contact buttons cannot be pressed by
        text: use :meth:`share_location` / :meth:`share_contact`.
        """
        chat_id = _chat_id(chat, user)
        data = await self._request("GET", f"/sandbox/chats/{chat_id}/transcript")
        entries: list[Entry] = data["entries"]
        keyboard_id = data.get("reply_keyboard_message_id")
        reply_keyboard = data.get("reply_keyboard")
        candidates = [e for e in entries if e.get("type") == "message" and not e.get("deleted")]
        if message_id is not None:
            candidates = [e for e in candidates if e["message_id"] == message_id]
            if not candidates:
                raise SandboxClientError(f"no bot message {message_id} in chat {chat_id}")
        for entry in reversed(candidates):
            markup = entry.get("reply_markup") or {}
            for row in markup.get("inline_keyboard", []):
                for button in row:
                    if button.get("text") == button_text:
                        if "callback_data" not in button:
                            raise SandboxClientError(
                                f"button {button_text!r} opens {_button_kind(button)}; no callback")
                        body = {"message_id": entry["message_id"], "data": button["callback_data"],
                                **user.profile(), **({"chat_id": chat_id} if chat is not None else {})}
                        return await self._act(f"/sandbox/users/{user.id}/callback", body, chat_id,
                                               settle, timeout)
        # The reply keyboard is attached to the chat, not a message; it is usable
        # even if the message that set it was deleted.
        if reply_keyboard and (message_id is None or message_id == keyboard_id):
            for row in reply_keyboard.get("keyboard", []):
                for button in row:
                    if button.get("text") != button_text:
                        continue
                    if button.get("request_location"):
                        raise SandboxClientError(
                            f"{button_text!r} is a location-request button: use share_location()")
                    if button.get("request_contact"):
                        raise SandboxClientError(
                            f"{button_text!r} is a contact-request button: use share_contact()")
                    return await self.send(user, button_text, chat=chat, settle=settle, timeout=timeout)
        raise SandboxClientError(f"no button {button_text!r} in chat {chat_id}")

    async def press_data(self, user: SandboxUser, message_id: int, data: str, *, chat: ChatRef = None,
                         settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Press the inline button with callback ``data`` on ``message_id`` (must exist)."""
        chat_id = _chat_id(chat, user)
        body = {"message_id": message_id, "data": data, **user.profile(), **({"chat_id": chat_id} if chat is not None else {})}
        return await self._act(f"/sandbox/users/{user.id}/callback", body, chat_id, settle, timeout)

    async def forge_callback(self, user: SandboxUser, message_id: int, data: str, *, chat: ChatRef = None,
                             settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Send arbitrary callback ``data`` for ``message_id``, as a modified client can."""
        chat_id = _chat_id(chat, user)
        body = {"message_id": message_id, "data": data, **user.profile(), **({"chat_id": chat_id} if chat is not None else {})}
        return await self._act(f"/sandbox/users/{user.id}/forge_callback", body, chat_id, settle, timeout)

    # ------------------------------------------------------------ groups and channels

    async def create_chat(self, chat: SandboxChat, members: list[SandboxUser] | None = None, *,
                          creator: SandboxUser | None = None) -> None:
        """Create a group, supergroup or channel with ``members`` (the bot is not in it yet)."""
        await self._request("POST", f"/sandbox/chats/{chat.id}",
                            {"type": chat.type, "title": chat.title, "username": chat.username,
                             **({"is_forum": True} if chat.is_forum else {})})
        if creator is not None:
            await self.set_member(chat, creator, "creator")
        for user in members or []:
            if creator is None or user.id != creator.id:
                await self.set_member(chat, user, "member")

    async def set_member(self, chat: SandboxChat, user: SandboxUser, status: str = "member", *,
                         by: SandboxUser | None = None, settle: float | None = None,
                         timeout: float | None = None) -> list[Entry]:
        """``user`` joins (``member``), is promoted (``administrator``), leaves (``left``) or is banned (``kicked``)."""
        body: dict[str, Any] = {"status": status, **user.profile()}
        if by is not None:
            body["by"] = by.id
        return await self._chat_event(f"/sandbox/chats/{chat.id}/members/{user.id}", body, chat.id, settle, timeout)

    async def add_bot(self, chat: SandboxChat, *, by: SandboxUser, admin: bool = False,
                      settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """``by`` adds the bot to ``chat`` (as an administrator with ``admin``); returns the bot's reaction there."""
        return await self.set_bot_status(chat, "administrator" if admin else "member", by=by, settle=settle, timeout=timeout)

    async def set_bot_status(self, chat: SandboxChat, status: str, *, by: SandboxUser | None = None,
                             settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Change the bot's own status in ``chat`` (``member``, ``administrator``, ``left``, ``kicked``)."""
        bot_id = await self._bot_id()
        body: dict[str, Any] = {"status": status}
        if by is not None:
            body["by"] = by.id
        return await self._chat_event(f"/sandbox/chats/{chat.id}/members/{bot_id}", body, chat.id, settle, timeout)

    async def post(self, channel: SandboxChat, text: str, *, author_signature: str | None = None,
                   settle: float | None = None, timeout: float | None = None) -> list[Entry]:
        """Post ``text`` in a channel (as one of its administrators); returns the bot's reaction there."""
        body: dict[str, Any] = {"text": text}
        if author_signature:
            body["author_signature"] = author_signature
        return await self._act(f"/sandbox/chats/{channel.id}/post", body, channel.id, settle, timeout)

    async def create_topic(self, chat: SandboxChat, name: str, *, by: SandboxUser) -> int:
        """``by`` opens a topic in the forum ``chat``; returns its ``message_thread_id``."""
        created = await self._request("POST", f"/sandbox/chats/{chat.id}/topics", {"name": name, "by": by.id})
        return int(created["message_thread_id"])

    async def set_inline_mode(self, enabled: bool = True, placeholder: str | None = None) -> None:
        """BotFather's /setinline for the sandbox bot."""
        await self._request("POST", "/sandbox/bot", {"inline": enabled, "placeholder": placeholder})

    async def inline_query(self, user: SandboxUser, query: str, *, chat_type: str = "private",
                           timeout: float | None = None) -> dict[str, Any]:
        """``user`` types ``@bot query``; returns the bot's answer (``results``, ``cache_time``, ...)."""
        created = await self._request("POST", f"/sandbox/users/{user.id}/inline",
                                      {"query": query, "chat_type": chat_type, **user.profile()})
        wait = self.timeout if timeout is None else timeout
        answer = await self._request("POST", f"/sandbox/inline/{created['inline_query_id']}/wait",
                                     {"timeout": wait}, timeout=wait)
        answer.pop("ok", None)
        return answer

    async def _chat_event(self, path: str, body: dict[str, Any], chat_id: int,
                          settle: float | None, timeout: float | None) -> list[Entry]:
        created = await self._request("POST", path, body)
        if created.get("update_id") is None:
            return []
        # A bot usually says nothing when it joins: do not wait the full timeout for it.
        return await self.wait(chat_id, since=int(created["seq"]), update_id=created["update_id"],
                               settle=settle, timeout=max(self.settle * 2, 0.5) if timeout is None else timeout)

    async def _bot_id(self) -> int:
        data = await self._request("GET", "/sandbox/stats")
        return int(data["bot_id"])

    # ------------------------------------------------------------ inspection

    async def transcript(self, chat_id: int) -> list[Entry]:
        """Everything the bot did in the chat, in order (messages and callback answers)."""
        try:
            data = await self._request("GET", f"/sandbox/chats/{chat_id}/transcript")
        except SandboxClientError:
            return []
        return list(data["entries"])

    async def inbound(self, chat_id: int) -> list[Entry]:
        """What the user sent in the chat (message objects and callback presses)."""
        data = await self._request("GET", f"/sandbox/chats/{chat_id}/transcript")
        return list(data["inbound"])

    async def actions(self, chat_id: int, since: int = 0) -> list[Entry]:
        """Bot actions (send/edit/delete/callback_answer) with ``seq > since``."""
        try:
            data = await self._request("GET", f"/sandbox/chats/{chat_id}/actions?since={since}")
        except SandboxClientError:
            return []
        return list(data["actions"])

    async def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The reply keyboard currently shown in the chat, if any."""
        data = await self._request("GET", f"/sandbox/chats/{chat_id}/transcript")
        return data.get("reply_keyboard")

    async def last_message(self, chat_id: int) -> Entry | None:
        """The newest bot message in the chat that was not deleted."""
        for entry in reversed(await self.transcript(chat_id)):
            if entry.get("type") == "message" and not entry.get("deleted"):
                return entry
        return None

    @staticmethod
    def buttons(entry: Entry) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data or None)`` of an entry's keyboard."""
        markup = entry.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
        return [[(b["text"], b.get("callback_data")) for b in row] for row in rows]

    async def document(self, entry: Entry) -> bytes:
        """Bytes of the document sent in ``entry``."""
        document = entry.get("document")
        if not document:
            raise SandboxClientError("entry has no document")
        return base64.b64decode(document.get("content_b64", ""))

    async def wait_for(self, chat_id: int, predicate: Callable[[list[Entry]], bool],
                       timeout: float = 10.0, interval: float = 0.05) -> list[Entry]:
        """Poll the transcript until ``predicate(entries)`` holds; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            entries = await self.transcript(chat_id)
            if predicate(entries):
                return entries
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met in chat {chat_id} within {timeout}s")
            await asyncio.sleep(interval)

    async def commands(self, user: SandboxUser, *, chat: ChatRef = None) -> list[dict[str, str]]:
        """The command menu the user's client would show, in the private chat or in ``chat`` (scope/language fallback)."""
        await self.register(user)
        query = f"?chat_id={_chat_id(chat, user)}" if chat is not None else ""
        data = await self._request("GET", f"/sandbox/users/{user.id}/commands{query}")
        return list(data["commands"])

    # ------------------------------------------------------------ failures & stats

    async def set_failure(self, chat_id: int, mode: str, *, count: int | None = None,
                          retry_after: int = 5) -> None:
        """Inject a failure: blocked, deactivated, chat_not_found, retry_after, server_error."""
        body: dict[str, Any] = {"mode": mode, "retry_after": retry_after}
        if count is not None:
            body["count"] = count
        await self._request("POST", f"/sandbox/chats/{chat_id}/fail", body)

    async def clear_failure(self, chat_id: int) -> None:
        """Remove an injected failure."""
        await self._request("DELETE", f"/sandbox/chats/{chat_id}/fail")

    async def stats(self) -> dict[str, Any]:
        """Server statistics (see ``SandboxServer.stats``)."""
        data = await self._request("GET", "/sandbox/stats")
        data.pop("ok", None)
        return data

    async def reset(self) -> None:
        """Forget all sandbox state."""
        await self._request("POST", "/sandbox/reset")


def _button_kind(button: dict[str, Any]) -> str:
    for key in ("url", "web_app", "login_url", "switch_inline_query", "copy_text"):
        if key in button:
            return key
    return "something else"
