"""A local imitation of the Telegram Bot API ("sandbox").

The bot is pointed at the sandbox with
``TelegramAPIServer.from_base(server.base_url)`` and runs unchanged.  The
sandbox copies Telegram's observable behaviour, warts included (error texts,
limits, ``editMessageText`` dropping an inline keyboard that is not re-sent,
``allowed_updates`` filtering at creation time, 409 for a second poller, reply
keyboards not being echoed in returned ``Message`` objects, ...).  It never
offers something the real API lacks.  Documented deviations, all "stricter or
local-only": unescaped ``&`` in HTML is rejected (see ``formatting.py``),
``http://`` webhooks are allowed for loopback hosts only, and files given by
URL are not downloaded.

Bot API
    ``GET|POST /bot{token}/{method}`` with query string, ``application/json``,
    ``application/x-www-form-urlencoded`` or ``multipart/form-data``
    parameters; ``GET /file/bot{token}/{file_path}`` downloads stored files.

Control API (JSON in, JSON out; errors are ``{"ok": false, "error": "..."}``)
    ``POST /sandbox/users/{user_id}``                  create/update a user profile
        body: ``first_name``, ``last_name``, ``username``, ``language_code``
    ``POST /sandbox/users/{user_id}/message``          user sends text
        body: ``text`` (+ optional profile fields, ``reply_to_message_id``)
    ``POST /sandbox/users/{user_id}/location``         body: ``latitude``, ``longitude``
    ``POST /sandbox/users/{user_id}/contact``          body: ``phone_number`` (+ names)
    ``POST /sandbox/users/{user_id}/callback``         press an existing inline button;
        body: ``message_id`` and ``data`` or ``text`` (the button's label)
    ``POST /sandbox/users/{user_id}/forge_callback``   body: ``message_id``, ``data``;
        arbitrary data, as a modified client could send
    ``GET  /sandbox/users/{user_id}/commands[?chat_id=N]`` the command menu the user's
        client would display in the private chat or in group N (Telegram's scope/language fallback)
        Every inbound action answers ``{"update_id": int | null, "chat_id", "seq",
        "message_id"?, "callback_query_id"?}``; ``update_id`` is null when the bot's
        ``allowed_updates`` filtered the update out (Telegram never creates it).
    ``POST /sandbox/wait``  body: ``chat_id``, ``since`` (action seq), ``update_id``
        (optional), ``settle`` (s), ``timeout`` (s) -> ``{"actions": [...], "seq"}``;
        waits until the update was fetched by the bot, then until the bot acted in
        the chat and stayed quiet for ``settle`` seconds (or ``timeout``).
        With an in-process bot that reports handled updates (tests), it waits
        until the bot has handled the update instead of for ``settle`` seconds.
    ``POST /sandbox/idle``  body: ``timeout``, ``settle`` -> ``{"idle": bool}``; waits
        until every queued update was fetched (and handled, with a reporting bot)
    ``GET  /sandbox/chats/{chat_id}/transcript``       ``{"entries", "inbound", "seq",
        "reply_keyboard", "reply_keyboard_message_id"}``
    ``GET  /sandbox/chats/{chat_id}/actions?since=N``  ``{"actions", "seq"}``
    ``POST /sandbox/chats/{chat_id}``                  create/update a group: body ``type``
        (``group``, ``supergroup``, ``channel``), ``title``, ``username``; the id is negative
    ``POST /sandbox/chats/{chat_id}/members/{user_id}`` body ``status`` (``creator``,
        ``administrator``, ``member``, ``left``, ``kicked``), ``by`` (who did it); with the
        bot's own id this adds, promotes or removes the bot (``my_chat_member`` update)
    ``POST /sandbox/chats/{chat_id}/post``             a channel post: body ``text``
        (+ ``author_signature``); reaches the bot only if it administers the channel
    Messages, locations and button presses in a group: the user endpoints above with
    ``chat_id`` in the body. Privacy mode, as Telegram's default: a bot that is a plain
    member gets commands (``/cmd`` and ``/cmd@its_name``, not ``/cmd@other_bot``), replies
    to its own messages and service messages; an administrator gets everything.
    ``POST /sandbox/chats/{chat_id}/fail``  body: ``mode`` in ``blocked``,
        ``deactivated``, ``chat_not_found``, ``retry_after``, ``server_error``,
        ``none``; ``count`` (requests affected; omitted = until cleared);
        ``retry_after`` (seconds, default 5)
    ``DELETE /sandbox/chats/{chat_id}/fail``           clear the failure
    ``GET  /sandbox/stats``                            see :meth:`SandboxServer.stats`
    ``POST /sandbox/reset``                            forget all state
    ``POST /sandbox/updates``  body: ``kind``, ``body``, ``chat_id``: queue a raw
        update as given (malformed ones too), for robustness tests
    ``POST /sandbox/chats/{chat_id}`` with ``is_forum: true`` (supergroups) makes a forum;
    ``POST /sandbox/chats/{chat_id}/topics``           body ``name``, ``by``: a member opens a
        topic -> ``{"message_thread_id"}`` (the id of its ``forum_topic_created`` message).
        User messages take ``thread_id``; the bot's ``message_thread_id`` must name a topic
        ("message thread not found" otherwise)
    ``POST /sandbox/bot``                              body ``inline`` (bool), ``placeholder``:
        BotFather's /setinline (off by default, as for a new bot)
    ``POST /sandbox/users/{user_id}/inline``           body ``query``, ``chat_type``, ``offset``:
        the user types ``@bot query`` -> ``{"update_id", "inline_query_id"}``; refused while
        inline mode is off (Telegram's client sends nothing then)
    ``POST /sandbox/inline/{inline_query_id}/wait``    body ``timeout`` -> the bot's
        ``answerInlineQuery`` (``results`` with ``plain`` text of each message, ``cache_time``)
Limits: besides ``flood_limit``, at most ``group_limit`` (20) new messages a minute in one
group, supergroup or channel, as Telegram applies it: 429 with ``retry_after`` until the
oldest of them is a minute old.

Transcript entries (bot output in a chat) are dicts: ``type`` ("message" or
``"callback_answer"``), ``message_id``, ``kind`` ("text", "photo", "document",
"location", "venue"), ``text`` (raw text/caption as sent), ``plain`` (markup
removed, entities unescaped), ``parse_mode``, ``entities``, ``reply_markup``,
``document`` (``file_name``, ``mime_type``, ``file_size``, ``file_id``,
``content_b64``), ``photo``, ``location``, ``venue``, ``edited``, ``edits``
(previous versions), ``deleted``, ``date``.  Callback answers carry
``callback_query_id``, ``message_id``, ``data``, ``text``, ``show_alert``, ``url``.
Actions are snapshots of entries plus ``seq`` and ``action`` ("send", "edit",
"delete", "callback_answer").
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import hashlib
import itertools
import json
import math
import mimetypes
import re
import secrets
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import web

from bot.telegram_format import EntityParseError, parse_formatted, utf16_len

__all__ = ["ApiError", "SandboxServer"]

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# Telegram default for getUpdates when allowed_updates was never given / is [].
DEFAULT_UPDATE_TYPES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post",
        "business_connection", "business_message", "edited_business_message",
        "deleted_business_messages", "inline_query", "chosen_inline_result",
        "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost",
        "removed_chat_boost",
    }
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
CONFLICT_POLLER = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply "
    "markup are exactly the same as a current content and reply markup of the message"
)
INLINE_BUTTON_ACTIONS = (
    "url", "callback_data", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat",
    "copy_text", "callback_game", "pay",
)
PROFILE_CHANGES_PER_DAY = 20  # setMyName & co: changes per field before the server answers 429
FAILURE_MODES = ("blocked", "deactivated", "chat_not_found", "retry_after", "server_error")
_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]{1,64}(@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class ApiError(Exception):
    """A Bot API error, rendered in Telegram's JSON shape."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram would answer with."""
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _retry_after(seconds: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {seconds}", retry_after=seconds)


class ControlError(Exception):
    """Error of the control API (misuse by the test, not a Bot API error)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes
    content_type: str | None = None


@dataclass
class WithDescription:
    """A successful result that Telegram accompanies with a ``description``."""

    result: Any
    description: str


class _Signal:
    """Broadcast "something changed" to any number of waiters."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        if timeout <= 0:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


class Params:
    """Request parameters; values are strings (form/query) or JSON values."""

    def __init__(self, values: dict[str, Any], files: dict[str, UploadedFile] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def raw(self, name: str) -> Any:
        value = self.values.get(name)
        return None if value == "" else value

    def str(self, name: str) -> str | None:
        value = self.raw(name)
        if value is None:
            return None
        return value if isinstance(value, str) else json.dumps(value)

    def int(self, name: str) -> int | None:
        value = self.raw(name)
        if value is None:
            return None
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def float(self, name: str) -> float | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f"invalid {name} specified") from None

    def bool(self, name: str) -> bool:
        value = self.raw(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "on")
        return bool(value)

    def json(self, name: str, error: str | None = None) -> Any:
        value = self.raw(name)
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise _bad(error or f"can't parse {name} JSON object") from None


@dataclass
class UserProfile:
    """A Telegram user acting through the control API."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"

    def to_user(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    def to_chat(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        for key in ("last_name", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class Failure:
    """Injected failure for a chat; ``remaining`` None means until cleared."""

    mode: str
    remaining: int | None = None
    retry_after: int = 5


ADMIN_RIGHTS = {
    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True, "can_delete_messages": True,
    "can_manage_video_chats": True, "can_restrict_members": True, "can_promote_members": False,
    "can_change_info": True, "can_invite_users": True, "can_post_stories": False, "can_edit_stories": False,
    "can_delete_stories": False, "can_send_welcome_messages": False, "can_pin_messages": True,
}
CHANNEL_ADMIN_RIGHTS = {**ADMIN_RIGHTS, "can_post_messages": True, "can_edit_messages": True}
MEMBER_STATUSES = ("creator", "administrator", "member", "left", "kicked")
GROUP_TYPES = ("group", "supergroup", "channel")


@dataclass
class ChatState:
    """Everything the sandbox knows about one chat: a user's private chat, or a group/supergroup/channel."""

    user: UserProfile | None
    next_message_id: int = 1
    entries: list[dict[str, Any]] = field(default_factory=list)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # bot messages by id
    inbound: list[dict[str, Any]] = field(default_factory=list)
    inbound_by_id: dict[int, dict[str, Any]] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0
    last_action_at: float = 0.0
    reply_keyboard: dict[str, Any] | None = None
    reply_keyboard_message_id: int | None = None
    failure: Failure | None = None
    send_times: list[float] = field(default_factory=list)
    menu_button: dict[str, Any] | None = None
    chat_id: int = 0
    type: str = "private"
    title: str | None = None
    username: str | None = None
    members: dict[int, str] = field(default_factory=dict)  # user id -> status, groups only
    bot_status: str = "member"  # the bot's own status; "left" until a group adds it
    is_forum: bool = False
    topics: dict[int, str] = field(default_factory=dict)  # message_thread_id -> name, forums only
    group_sends: deque[float] = field(default_factory=deque)  # new messages in the last minute

    def __post_init__(self) -> None:
        if self.user is not None and not self.chat_id:
            self.chat_id = self.user.id

    @property
    def id(self) -> int:
        return self.chat_id

    @property
    def is_private(self) -> bool:
        return self.type == "private"

    def to_chat(self) -> dict[str, Any]:
        """The ``Chat`` object of this chat."""
        if self.user is not None and self.is_private:
            return self.user.to_chat()
        data: dict[str, Any] = {"id": self.chat_id, "type": self.type, "title": self.title or f"Chat {self.chat_id}"}
        if self.username:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        return data

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class StoredFile:
    """A file known to the sandbox (uploaded by the bot or by a user)."""

    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document"
    data: bytes
    file_name: str | None
    mime_type: str | None
    file_path: str


@dataclass
class PendingUpdate:
    """An update not yet confirmed (getUpdates offset) or delivered (webhook)."""

    update_id: int
    payload: dict[str, Any]
    chat_id: int | None
    in_flight: bool = False
    gave_up: bool = False


@dataclass
class CallbackQueryState:
    chat_id: int
    message_id: int
    data: str
    answered: bool = False


@dataclass
class InlineQueryState:
    user_id: int
    query: str
    created: float
    answer: dict[str, Any] | None = None


INLINE_ANSWER_TIMEOUT = 10.0  # Telegram refuses an answer to an older query
INLINE_RESULT_TYPES = ("article", "photo", "gif", "mpeg4_gif", "video", "audio", "voice", "document",
                       "location", "venue", "contact", "game", "sticker")


@dataclass
class WebhookState:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


Handler = Callable[[Params], Awaitable[Any]]


class SandboxServer:
    """In-process fake of the Telegram Bot API plus a control API for tests."""

    def __init__(
        self,
        token: str = "123456:SANDBOX",
        bot_username: str = "kardes_sandbox_bot",
        *,
        flood_limit: float | None = None,
        strict_html: bool = True,
        webhook_retries: int = 3,
        group_limit: int | None = 20,
    ) -> None:
        """Create a sandbox for one bot ``token``.

        ``flood_limit`` enables a global limit of sent messages per sliding second
        (Telegram's ~30/s broadcast limit); exceeding it answers 429.
        """
        self.token = token
        self.bot_username = bot_username
        self.flood_limit = flood_limit
        self.strict_html = strict_html
        self.webhook_retries = webhook_retries
        # Seconds added to every Bot API answer over HTTP, as a real network would (tests, benchmarks).
        self.api_latency = 0.0
        self.group_limit = group_limit
        self._default_group_limit = group_limit
        bot_id = token.split(":", 1)[0]
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id) if bot_id.isdigit() else 123456,
            "is_bot": True,
            "first_name": "Kardeş (sandbox)",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self._handlers: dict[str, Handler] = {
            name.lower(): getattr(self, f"_m_{name}")
            for name in (
                "getMe", "logOut", "close", "getUpdates", "setWebhook", "deleteWebhook",
                "getWebhookInfo", "sendMessage", "editMessageText", "editMessageCaption",
                "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery",
                "sendLocation", "sendVenue", "sendPhoto", "sendDocument", "sendChatAction",
                "setMyCommands", "getMyCommands", "deleteMyCommands", "getChat", "getFile",
                "setChatMenuButton", "getChatMenuButton", "getChatMember", "getChatAdministrators",
                "getChatMemberCount", "leaveChat", "answerInlineQuery",
                "setMyName", "getMyName", "setMyDescription", "getMyDescription",
                "setMyShortDescription", "getMyShortDescription",
            )
        }
        self._runner: web.AppRunner | None = None
        self._site_url: str | None = None
        self._http: aiohttp.ClientSession | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_wakeup: asyncio.Event | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._reporters = 0  # in-process bots that tell when they have handled an update
        self._init_state()

    # ------------------------------------------------------------------ state

    def _init_state(self) -> None:
        self._users: dict[int, UserProfile] = {}
        self._chats: dict[int, ChatState] = {}
        self._updates: list[PendingUpdate] = []
        self._fetched: dict[int, float] = {}
        self._handled: set[int] = set()
        self._awaiting: set[int] = set()  # fetched by a reporting bot, not handled yet
        self._update_ids = itertools.count(10_000)
        self._allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._webhook: WebhookState | None = None
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callbacks: dict[str, CallbackQueryState] = {}
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._default_menu_button: dict[str, Any] = {"type": "commands"}
        # setMyName / setMyDescription / setMyShortDescription: value per (field, language), and
        # how many changes each field took (Telegram allows only a few a day, then answers 429).
        self._profile_texts: dict[tuple[str, str], str] = {}
        self._profile_changes: Counter[str] = Counter()
        self._flood_window: deque[float] = deque()
        self._send_log: list[tuple[float, int]] = []
        self._counters: Counter[str] = Counter()
        self._methods: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._started_at = time.monotonic()
        self._signal = _Signal()
        self._inline: dict[str, InlineQueryState] = {}
        self.bot_user["supports_inline_queries"] = False
        self.bot_user.pop("inline_placeholder", None)

    def reset(self) -> None:
        """Forget users, chats, updates, webhook, commands and statistics; limits back to their defaults."""
        self._init_state()
        self.group_limit = self._default_group_limit
        if self._webhook_wakeup is not None:
            self._webhook_wakeup.set()

    # ------------------------------------------------- in-process bots (tests)

    _serving: ClassVar[dict[str, SandboxServer]] = {}

    @classmethod
    def serving(cls, base_url: str) -> SandboxServer | None:
        """The sandbox running in this process at ``base_url``, if any."""
        return cls._serving.get(base_url.rstrip("/"))

    def attach_reporter(self) -> None:
        """An in-process bot will call :meth:`report_handled` for every update it fetches.

        Then waiting for a reaction ends when the bot has finished handling the update
        instead of after a quiet period, and "the bot said nothing" is a fact, not a timeout.
        A bot outside this process (or one that does not report) gets the quiet period."""
        self._reporters += 1

    def detach_reporter(self) -> None:
        self._reporters = max(0, self._reporters - 1)
        if not self._reporters:
            self._awaiting.clear()
        self._signal.notify()

    def report_handled(self, update_id: int) -> None:
        """The in-process bot finished handling (or skipped) ``update_id``."""
        self._handled.add(update_id)
        self._awaiting.discard(update_id)
        self._signal.notify()

    async def wait_idle(self, timeout: float = 10.0, settle: float = 0.3) -> bool:
        """Wait until every queued update was fetched and, with a reporting bot, handled.

        Without a reporting bot, waits ``settle`` seconds after the last fetch instead.
        False when ``timeout`` expired first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            unfetched = any(u.update_id not in self._fetched for u in self._updates if not u.gave_up)
            if not unfetched and not self._awaiting:
                if not self._reporters:
                    await asyncio.sleep(min(settle, max(0.0, deadline - time.monotonic())))
                return True
            await self._signal.wait(deadline - time.monotonic())
        return False

    @property
    def base_url(self) -> str:
        """Base URL for ``TelegramAPIServer.from_base`` (after :meth:`start`)."""
        if self._site_url is None:
            raise RuntimeError("SandboxServer is not started")
        return self._site_url

    # -------------------------------------------------------------- lifecycle

    def make_app(self) -> web.Application:
        """Build the aiohttp application serving the Bot API and control API."""
        app = web.Application(client_max_size=MAX_DOCUMENT_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        r = app.router
        r.add_post("/sandbox/users/{user_id}", self._c_user)
        r.add_post("/sandbox/users/{user_id}/message", self._c_message)
        r.add_post("/sandbox/users/{user_id}/location", self._c_location)
        r.add_post("/sandbox/users/{user_id}/contact", self._c_contact)
        r.add_post("/sandbox/users/{user_id}/callback", self._c_callback)
        r.add_post("/sandbox/users/{user_id}/forge_callback", self._c_forge_callback)
        r.add_get("/sandbox/users/{user_id}/commands", self._c_commands)
        r.add_post("/sandbox/wait", self._c_wait)
        r.add_post("/sandbox/idle", self._c_idle)
        r.add_get("/sandbox/chats/{chat_id}/transcript", self._c_transcript)
        r.add_get("/sandbox/chats/{chat_id}/actions", self._c_actions)
        r.add_post("/sandbox/chats/{chat_id}", self._c_group)
        r.add_post("/sandbox/chats/{chat_id}/members/{user_id}", self._c_member)
        r.add_post("/sandbox/chats/{chat_id}/post", self._c_post)
        r.add_post("/sandbox/chats/{chat_id}/topics", self._c_topic)
        r.add_post("/sandbox/bot", self._c_bot)
        r.add_post("/sandbox/users/{user_id}/inline", self._c_inline)
        r.add_post("/sandbox/inline/{query_id}/wait", self._c_inline_wait)
        r.add_post("/sandbox/chats/{chat_id}/fail", self._c_fail)
        r.add_delete("/sandbox/chats/{chat_id}/fail", self._c_unfail)
        r.add_get("/sandbox/stats", self._c_stats)
        r.add_post("/sandbox/reset", self._c_reset)
        r.add_post("/sandbox/updates", self._c_inject)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Start serving; ``port=0`` picks a free port (see :attr:`base_url`)."""
        # handler_cancellation: a long poll whose client went away must stop
        # waiting, otherwise it would swallow the next update.
        self._runner = web.AppRunner(self.make_app(), handler_cancellation=True, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # noqa: SLF001 - aiohttp offers no public accessor
        assert server is not None and server.sockets
        real_port = server.sockets[0].getsockname()[1]
        self._site_url = f"http://{host}:{real_port}"
        SandboxServer._serving[self._site_url] = self
        self._http = aiohttp.ClientSession()
        self._webhook_wakeup = asyncio.Event()
        self._webhook_task = asyncio.create_task(self._webhook_loop())

    async def stop(self) -> None:
        """Stop serving and cancel background work."""
        if self._site_url is not None:
            SandboxServer._serving.pop(self._site_url, None)
        # A long poll whose client went away may still be waiting: end it (as a newer poll would),
        # or the runner's cleanup waits for its timeout.
        self._poll_generation += 1
        self._signal.notify()
        tasks = [t for t in [self._webhook_task, *self._background] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        self._webhook_task = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._site_url = None

    async def __aenter__(self) -> SandboxServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # --------------------------------------------------------- HTTP: Bot API

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._api_response(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        if self.api_latency > 0:
            await asyncio.sleep(self.api_latency)
        try:
            params = await self._read_request_params(request)
            result = await self.call(method, params)
        except ApiError as exc:
            return self._api_response(exc)
        if isinstance(result, WithDescription):
            body = {"ok": True, "result": result.result, "description": result.description}
        else:
            body = {"ok": True, "result": result}
        return web.json_response(body)

    def _api_response(self, exc: ApiError) -> web.Response:
        return web.json_response(exc.payload(), status=exc.code)

    async def _read_request_params(self, request: web.Request) -> Params:
        values: dict[str, Any] = dict(request.query)
        files: dict[str, UploadedFile] = {}
        ctype = request.content_type
        if request.method == "POST" and request.can_read_body:
            if ctype == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad("can't parse JSON object")
                values.update(body)
            elif ctype == "multipart/form-data":
                await _read_multipart(await request.multipart(), values, files)
            else:
                values.update(parse_qsl((await request.read()).decode("utf-8", "replace")))
        return Params(values, files)

    async def call(self, method: str, params: Params | dict[str, Any]) -> Any:
        """Execute Bot API ``method`` in-process (also used for webhook replies)."""
        if not isinstance(params, Params):
            params = Params(params)
        self._counters["requests"] += 1
        handler = self._handlers.get(method.lower())
        try:
            if handler is None:
                raise ApiError(404, "Not Found")
            self._methods[method] += 1
            return await handler(params)
        except ApiError as exc:
            self._errors[str(exc.code)] += 1
            raise

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._api_response(ApiError(401, "Unauthorized"))
        stored = self._files_by_path.get(request.match_info["path"])
        if stored is None:
            return self._api_response(ApiError(404, "Not Found"))
        return web.Response(body=stored.data, content_type=stored.mime_type or "application/octet-stream")

    # ------------------------------------------------------ shared helpers

    def _chat_for(self, params: Params, *, sending: bool) -> ChatState:
        """Resolve ``chat_id`` and apply failure injection and flood control."""
        raw = params.raw("chat_id")
        if raw is None:
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw)
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        if not chat.is_private:
            if chat.bot_status == "kicked":
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            if chat.bot_status == "left":
                raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
            if sending and chat.type == "channel" and chat.bot_status not in ("administrator", "creator"):
                raise _bad("need administrator rights in the channel chat")
        failure = chat.failure
        if failure is not None:
            applies = sending or failure.mode not in ("blocked", "deactivated")
            if applies:
                if failure.remaining is not None:
                    failure.remaining -= 1
                    if failure.remaining <= 0:
                        chat.failure = None
                raise self._failure_error(failure, chat)
        if sending and self.flood_limit:
            now = time.monotonic()
            while self._flood_window and now - self._flood_window[0] >= 1.0:
                self._flood_window.popleft()
            if len(self._flood_window) >= self.flood_limit:
                self._counters["flood_429"] += 1
                wait = max(1, math.ceil(self._flood_window[0] + 1.0 - now))
                self._counters["retry_after_429"] += 1
                raise _retry_after(wait)
        return chat

    def _failure_error(self, failure: Failure, chat: ChatState) -> ApiError:
        if failure.mode == "blocked":
            if not chat.is_private:
                return ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            return ApiError(403, "Forbidden: bot was blocked by the user")
        if failure.mode == "deactivated":
            return ApiError(403, "Forbidden: user is deactivated")
        if failure.mode == "chat_not_found":
            return _bad("chat not found")
        if failure.mode == "retry_after":
            self._counters["retry_after_429"] += 1
            return _retry_after(failure.retry_after)
        return ApiError(500, "Internal Server Error")

    def _note_send(self, chat: ChatState) -> None:
        now = time.monotonic()
        if self.flood_limit:
            self._flood_window.append(now)
        chat.send_times.append(now - self._started_at)
        self._send_log.append((now - self._started_at, chat.id))

    def _format(self, text: str | None, params: Params, *, caption: bool) -> tuple[str, list[dict[str, Any]]]:
        """Parse text/caption per ``parse_mode`` and enforce Telegram's length limits."""
        parse_mode = params.str("parse_mode")
        entities_key = "caption_entities" if caption else "entities"
        entities = params.json(entities_key) if not parse_mode else None
        try:
            formatted = parse_formatted(text or "", parse_mode, entities, strict_html=self.strict_html)
        except EntityParseError as exc:
            raise _bad(f"can't parse entities: {exc}") from None
        except ValueError as exc:
            raise _bad(str(exc)) from None
        length = utf16_len(formatted.plain)
        if caption:
            if length > MAX_CAPTION:
                raise _bad("message caption is too long")
        else:
            if length == 0:
                raise _bad("message text is empty")
            if length > MAX_TEXT:
                raise _bad("message is too long")
        return formatted.plain, formatted.entities

    def _markup(self, params: Params, *, inline_only: bool = False) -> dict[str, Any] | None:
        markup = params.json("reply_markup", "can't parse reply keyboard markup JSON object")
        if markup is None:
            return None
        validated = _validate_markup(markup)
        if inline_only and "inline_keyboard" not in validated:
            raise _bad("inline keyboard expected")
        return validated

    def _reply_to(self, chat: ChatState, params: Params) -> int | None:
        reply_id = params.int("reply_to_message_id")
        allow_missing = params.bool("allow_sending_without_reply")
        parameters = params.json("reply_parameters")
        if isinstance(parameters, dict):
            reply_id = parameters.get("message_id", reply_id)
            allow_missing = bool(parameters.get("allow_sending_without_reply", allow_missing))
        if reply_id is None:
            return None
        known = reply_id in chat.messages or reply_id in chat.inbound_by_id
        if not known or chat.messages.get(reply_id, {}).get("deleted"):
            if allow_missing:
                return None
            raise _bad("message to be replied not found")
        return int(reply_id)

    def _new_entry(self, chat: ChatState, kind: str, params: Params) -> dict[str, Any]:
        return {
            "type": "message",
            "message_id": 0,
            "kind": kind,
            "text": None,
            "plain": None,
            "parse_mode": params.str("parse_mode"),
            "entities": [],
            "reply_markup": None,
            "document": None,
            "photo": None,
            "location": None,
            "venue": None,
            "edited": False,
            "edits": [],
            "deleted": False,
            "date": int(time.time()),
            "edit_date": None,
            "reply_to_message_id": None,
        }

    def _commit_message(self, chat: ChatState, entry: dict[str, Any], params: Params) -> dict[str, Any]:
        """Store a new bot message, record the action, return the Message object."""
        entry["reply_to_message_id"] = self._reply_to(chat, params)
        entry["message_thread_id"] = self._thread(chat, params)
        if not chat.is_private and self.group_limit:
            now = time.monotonic()
            while chat.group_sends and now - chat.group_sends[0] >= 60.0:
                chat.group_sends.popleft()
            if len(chat.group_sends) >= self.group_limit:
                self._counters["group_429"] += 1
                self._counters["retry_after_429"] += 1
                raise _retry_after(max(1, math.ceil(chat.group_sends[0] + 60.0 - now)))
            chat.group_sends.append(now)
        markup = entry["reply_markup"]
        entry["message_id"] = chat.take_message_id()
        chat.entries.append(entry)
        chat.messages[entry["message_id"]] = entry
        if markup is not None and "keyboard" in markup:
            chat.reply_keyboard = markup
            chat.reply_keyboard_message_id = entry["message_id"]
        elif markup is not None and "remove_keyboard" in markup:
            chat.reply_keyboard = None
            chat.reply_keyboard_message_id = None
        self._note_send(chat)
        self._record_action(chat, "send", entry)
        return self._message_object(chat, entry)

    def _thread(self, chat: ChatState, params: Params) -> int | None:
        thread = params.int("message_thread_id")
        if thread is None:
            return None
        if chat.is_forum:
            if thread not in chat.topics:
                raise _bad("message thread not found")
        elif thread not in chat.inbound_by_id and thread not in chat.messages:
            raise _bad("message thread not found")
        return thread

    def _record_action(self, chat: ChatState, action: str, entry: dict[str, Any]) -> None:
        chat.seq += 1
        chat.last_action_at = time.monotonic()
        snapshot = copy.deepcopy(entry)
        snapshot.update({"seq": chat.seq, "action": action})
        chat.actions.append(snapshot)
        self._signal.notify()

    def _message_object(self, chat: ChatState, entry: dict[str, Any]) -> dict[str, Any]:
        """Render a bot message entry as a Telegram ``Message`` object."""
        message: dict[str, Any] = {"message_id": entry["message_id"]}
        if chat.type == "channel":
            message["sender_chat"] = chat.to_chat()  # posts in a channel are signed by the channel
        else:
            message["from"] = self.bot_user
        message.update({"chat": chat.to_chat(), "date": entry["date"]})
        if entry.get("message_thread_id") is not None:
            message["message_thread_id"] = entry["message_thread_id"]
            if chat.is_forum:
                message["is_topic_message"] = True
        if entry["edit_date"]:
            message["edit_date"] = entry["edit_date"]
        kind = entry["kind"]
        text_key, entities_key = "caption", "caption_entities"
        if kind == "text":
            text_key, entities_key = "text", "entities"
        if entry["plain"]:
            message[text_key] = entry["plain"]
            if entry["entities"]:
                message[entities_key] = entry["entities"]
        if kind == "photo":
            message["photo"] = [entry["photo"]]
        elif kind == "document":
            message["document"] = {k: v for k, v in entry["document"].items() if k != "content_b64"}
        elif kind in ("location", "venue"):
            message["location"] = entry["location"]
            if kind == "venue":
                message["venue"] = entry["venue"]
        # Telegram only echoes inline keyboards; reply keyboards are invisible here.
        markup = entry["reply_markup"]
        if markup is not None and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        reply_id = entry.get("reply_to_message_id")
        if reply_id is not None:
            original = chat.inbound_by_id.get(reply_id) or (
                self._message_object(chat, chat.messages[reply_id]) if reply_id in chat.messages else None
            )
            if original is not None:
                message["reply_to_message"] = original
        return message

    def _bot_message(self, chat: ChatState, params: Params, *, deleting: bool = False) -> dict[str, Any]:
        if params.raw("inline_message_id") is not None:
            raise _bad("MESSAGE_ID_INVALID")  # the sandbox has no inline mode
        message_id = params.int("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        entry = chat.messages.get(message_id)
        if entry is None or entry["deleted"]:
            if not deleting and message_id in chat.inbound_by_id:
                raise _bad("message can't be edited")
            raise _bad("message to delete not found" if deleting else "message to edit not found")
        return entry

    def _store_file(self, kind: str, data: bytes, file_name: str | None, mime: str | None) -> StoredFile:
        unique = hashlib.sha1(data + kind.encode()).hexdigest()[:16]
        file_id = f"SBX{kind[:3].upper()}{secrets.token_urlsafe(18)}"
        ext = (file_name or "").rsplit(".", 1)[-1] if file_name and "." in file_name else "bin"
        path = f"{kind}s/file_{len(self._files)}.{ext}"
        stored = StoredFile(file_id, unique, kind, data, file_name, mime, path)
        self._files[file_id] = stored
        self._files_by_path[path] = stored
        return stored

    def _input_file(self, params: Params, name: str, kind: str) -> tuple[StoredFile | None, str | None]:
        """Resolve an InputFile parameter: upload part, attach:// reference, file_id or URL."""
        upload = params.files.get(name)
        value = params.raw(name)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = params.files.get(value[len("attach://") :])
            if upload is None:
                raise _bad("wrong file identifier/HTTP URL specified")
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            limit = MAX_PHOTO_BYTES if kind == "photo" else MAX_DOCUMENT_BYTES
            if len(upload.data) > limit:
                raise ApiError(413, "Request Entity Too Large")
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or "application/octet-stream"
            return self._store_file(kind, upload.data, upload.filename, mime), None
        if not value:
            raise _bad(f"there is no {name} in the request")
        value = str(value)
        if value.startswith(("http://", "https://")):
            return None, value  # not downloaded: the sandbox has no internet
        stored = self._files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise _bad("type of file mismatch")
        return stored, None

    # ---------------------------------------------------------- Bot API methods

    async def _m_getMe(self, params: Params) -> Any:
        return self.bot_user

    async def _m_logOut(self, params: Params) -> Any:
        return True

    async def _m_close(self, params: Params) -> Any:
        return True

    async def _m_getUpdates(self, params: Params) -> Any:
        if self._webhook is not None:
            raise ApiError(409, CONFLICT_WEBHOOK)
        # A newer getUpdates terminates an older waiting one, as on Telegram.
        self._poll_generation += 1
        generation = self._poll_generation
        self._signal.notify()
        offset = params.int("offset")
        limit = params.int("limit") or 100
        limit = max(1, min(limit, 100))
        timeout = max(0, params.int("timeout") or 0)
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        if offset is not None and offset != 0:
            if offset < 0:
                keep = self._updates[offset:]
                self._updates = keep
            else:
                self._updates = [u for u in self._updates if u.update_id >= offset]
        deadline = time.monotonic() + timeout
        while True:
            batch = self._updates[:limit]
            remaining = deadline - time.monotonic()
            if batch or remaining <= 0:
                break
            await self._signal.wait(remaining)
            if generation != self._poll_generation:
                raise ApiError(409, CONFLICT_POLLER)
            if self._webhook is not None:
                raise ApiError(409, CONFLICT_WEBHOOK)
        now = time.monotonic()
        for update in batch:
            self._fetched.setdefault(update.update_id, now)
            if self._reporters and update.update_id not in self._handled:
                self._awaiting.add(update.update_id)
        if batch:
            self._signal.notify()
        return [u.payload for u in batch]

    async def _m_setWebhook(self, params: Params) -> Any:
        url = params.str("url") or ""
        if params.bool("drop_pending_updates"):
            self._updates.clear()
        if not url:
            had = self._webhook is not None
            self._webhook = None
            return WithDescription(True, "Webhook was deleted" if had else "Webhook is already deleted")
        parts = urlsplit(url)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if parts.port is not None and not loopback and parts.port not in (443, 80, 88, 8443):
            raise _bad("bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443")
        secret = params.str("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise _bad("secret token contains unallowed characters")
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATE_TYPES
        max_connections = params.int("max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise _bad("bad webhook: max_connections must be between 1 and 100")
        same = self._webhook is not None and self._webhook.url == url
        self._webhook = WebhookState(url, secret, max_connections)
        for update in self._updates:
            update.gave_up = False
        self._signal.notify()  # pending long polls must now fail with 409
        assert self._webhook_wakeup is not None
        self._webhook_wakeup.set()
        return WithDescription(True, "Webhook is already set" if same else "Webhook was set")

    async def _m_deleteWebhook(self, params: Params) -> Any:
        if params.bool("drop_pending_updates"):
            self._updates.clear()
        had = self._webhook is not None
        self._webhook = None
        return WithDescription(True, "Webhook was deleted" if had else "Webhook is already deleted")

    async def _m_getWebhookInfo(self, params: Params) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook.url if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook is not None:
            info["max_connections"] = self._webhook.max_connections
            if self._webhook.last_error_date:
                info["last_error_date"] = self._webhook.last_error_date
                info["last_error_message"] = self._webhook.last_error_message
            if self._allowed_updates != DEFAULT_UPDATE_TYPES:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info

    async def _m_sendMessage(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=True)
        text = params.str("text")
        entry = self._new_entry(chat, "text", params)
        entry["plain"], entry["entities"] = self._format(text, params, caption=False)
        entry["text"] = text
        entry["reply_markup"] = self._markup(params)
        return self._commit_message(chat, entry, params)

    async def _m_sendPhoto(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=True)
        caption = params.str("caption")
        entry = self._new_entry(chat, "photo", params)
        entry["plain"], entry["entities"] = self._format(caption, params, caption=True)
        entry["text"] = caption
        entry["reply_markup"] = self._markup(params)
        stored, url = self._input_file(params, "photo", "photo")
        if stored is not None and stored.data and _image_size(stored.data) is None:
            raise _bad("IMAGE_PROCESS_FAILED")
        size = _image_size(stored.data) if stored is not None and stored.data else None
        width, height = size or (800, 600)
        if stored is None:
            stored = self._store_file("photo", b"", None, None)
        entry["photo"] = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "width": width, "height": height, "file_size": len(stored.data),
        }
        if url:
            entry["photo"]["source_url"] = url
        return self._commit_message(chat, entry, params)

    async def _m_sendDocument(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=True)
        caption = params.str("caption")
        entry = self._new_entry(chat, "document", params)
        entry["plain"], entry["entities"] = self._format(caption, params, caption=True)
        entry["text"] = caption
        entry["reply_markup"] = self._markup(params)
        stored, url = self._input_file(params, "document", "document")
        if stored is None:
            name = urlsplit(url or "").path.rsplit("/", 1)[-1] or "file"
            stored = self._store_file("document", b"", name, mimetypes.guess_type(name)[0])
        document: dict[str, Any] = {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "content_b64": base64.b64encode(stored.data).decode("ascii"),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        entry["document"] = document
        return self._commit_message(chat, entry, params)

    async def _m_sendLocation(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=True)
        entry = self._new_entry(chat, "location", params)
        entry["location"] = _location(params)
        entry["reply_markup"] = self._markup(params)
        return self._commit_message(chat, entry, params)

    async def _m_sendVenue(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=True)
        entry = self._new_entry(chat, "venue", params)
        location = _location(params)
        title, address = params.str("title"), params.str("address")
        if not title:
            raise _bad("venue title is empty")  # approximation of Telegram's wording
        if not address:
            raise _bad("venue address is empty")
        venue: dict[str, Any] = {"location": location, "title": title, "address": address}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if params.str(key):
                venue[key] = params.str(key)
        entry["location"], entry["venue"] = location, venue
        entry["plain"] = title
        entry["reply_markup"] = self._markup(params)
        return self._commit_message(chat, entry, params)

    async def _m_sendChatAction(self, params: Params) -> Any:
        self._chat_for(params, sending=True)
        action = params.str("action")
        allowed = {"typing", "upload_photo", "record_video", "upload_video", "record_voice",
                   "upload_voice", "upload_document", "choose_sticker", "find_location",
                   "record_video_note", "upload_video_note"}
        if action not in allowed:
            raise _bad("wrong parameter action in request")
        return True

    async def _edit(self, params: Params, *, field_kind: str) -> Any:
        chat = self._chat_for(params, sending=True)
        entry = self._bot_message(chat, params)
        if field_kind == "text" and entry["kind"] != "text":
            raise _bad("there is no text in the message to edit")
        if field_kind == "caption" and entry["kind"] not in ("photo", "document"):
            raise _bad("there is no caption in the message to edit")
        if entry["reply_markup"] is not None and "inline_keyboard" not in entry["reply_markup"] \
                and field_kind == "markup":
            raise _bad("message can't be edited")
        # Omitting reply_markup removes an inline keyboard (a classic Telegram surprise).
        new_markup = self._markup(params, inline_only=True)
        new_plain, new_entities, new_text = entry["plain"], entry["entities"], entry["text"]
        if field_kind == "text":
            new_text = params.str("text")
            new_plain, new_entities = self._format(new_text, params, caption=False)
        elif field_kind == "caption":
            new_text = params.str("caption")
            new_plain, new_entities = self._format(new_text, params, caption=True)
        old_inline = entry["reply_markup"] if entry["reply_markup"] and "inline_keyboard" in entry["reply_markup"] else None
        if new_plain == entry["plain"] and new_entities == entry["entities"] and new_markup == old_inline:
            raise _bad(NOT_MODIFIED[len("Bad Request: ") :])
        entry["edits"].append({
            "text": entry["text"], "plain": entry["plain"], "entities": entry["entities"],
            "reply_markup": entry["reply_markup"], "parse_mode": entry["parse_mode"],
            "date": entry["edit_date"] or entry["date"],
        })
        entry["text"], entry["plain"], entry["entities"] = new_text, new_plain, new_entities
        if field_kind != "markup":
            entry["parse_mode"] = params.str("parse_mode")
        if old_inline is not None or new_markup is not None:
            entry["reply_markup"] = new_markup
        entry["edited"] = True
        entry["edit_date"] = int(time.time())
        self._record_action(chat, "edit", entry)
        return self._message_object(chat, entry)

    async def _m_editMessageText(self, params: Params) -> Any:
        return await self._edit(params, field_kind="text")

    async def _m_editMessageCaption(self, params: Params) -> Any:
        return await self._edit(params, field_kind="caption")

    async def _m_editMessageReplyMarkup(self, params: Params) -> Any:
        return await self._edit(params, field_kind="markup")

    async def _m_deleteMessage(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=False)
        message_id = params.int("message_id")
        inbound = chat.inbound_by_id.get(message_id or -1)
        if inbound is not None and not inbound.get("_deleted"):
            # Bots may delete users' messages in private chats; in groups only as administrators.
            if not chat.is_private and chat.bot_status not in ("administrator", "creator"):
                raise _bad("message can't be deleted")
            inbound["_deleted"] = True
            return True
        entry = self._bot_message(chat, params, deleting=True)
        entry["deleted"] = True
        if chat.reply_keyboard_message_id == entry["message_id"]:
            chat.reply_keyboard_message_id = None  # the keyboard stays visible, as on Telegram
        self._record_action(chat, "delete", entry)
        return True

    async def _m_answerCallbackQuery(self, params: Params) -> Any:
        query_id = params.str("callback_query_id") or ""
        state = self._callbacks.get(query_id)
        if state is None or state.answered:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = params.str("text")
        if text is not None and utf16_len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        state.answered = True
        chat = self._chats[state.chat_id]
        entry = {
            "type": "callback_answer",
            "callback_query_id": query_id,
            "message_id": state.message_id,
            "data": state.data,
            "text": text,
            "plain": text,
            "show_alert": params.bool("show_alert"),
            "url": params.str("url"),
            "date": int(time.time()),
        }
        chat.entries.append(entry)
        self._record_action(chat, "callback_answer", entry)
        return True

    def _commands_key(self, params: Params) -> tuple[str, str]:
        scope = params.json("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        language = params.str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return _scope_key(scope), language

    async def _m_setMyCommands(self, params: Params) -> Any:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("too many commands specified")
        clean: list[dict[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("can't parse BotCommand JSON object")
            command = str(item.get("command", ""))
            description = str(item.get("description", ""))
            if not _BOT_COMMAND_RE.match(command):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": command, "description": description})
        key = self._commands_key(params)
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    async def _m_getMyCommands(self, params: Params) -> Any:
        return self._commands.get(self._commands_key(params), [])

    async def _m_deleteMyCommands(self, params: Params) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _set_profile_text(self, params: Params, field: str, limit: int) -> Any:
        value = params.str(field) or ""
        if len(value) > limit:
            raise _bad(f"{field} is too long")
        language = params.str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        if self._profile_texts.get((field, language), "") == value:
            return True
        if self._profile_changes[field] >= PROFILE_CHANGES_PER_DAY:
            self._counters["retry_after_429"] += 1
            raise _retry_after(3600)
        self._profile_changes[field] += 1
        if value:
            self._profile_texts[(field, language)] = value
        else:
            self._profile_texts.pop((field, language), None)
        return True

    def _get_profile_text(self, params: Params, field: str) -> Any:
        language = params.str("language_code") or ""
        return {field: self._profile_texts.get((field, language), self._profile_texts.get((field, ""), ""))}

    async def _m_setMyName(self, params: Params) -> Any:
        return self._set_profile_text(params, "name", 64)

    async def _m_getMyName(self, params: Params) -> Any:
        return self._get_profile_text(params, "name")

    async def _m_setMyDescription(self, params: Params) -> Any:
        return self._set_profile_text(params, "description", 512)

    async def _m_getMyDescription(self, params: Params) -> Any:
        return self._get_profile_text(params, "description")

    async def _m_setMyShortDescription(self, params: Params) -> Any:
        return self._set_profile_text(params, "short_description", 120)

    async def _m_getMyShortDescription(self, params: Params) -> Any:
        return self._get_profile_text(params, "short_description")

    async def _m_getChat(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=False)
        info = chat.to_chat()
        info.update({
            "accent_color_id": abs(chat.id) % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True, "limited_gifts": True, "unique_gifts": True,
                "premium_subscription": True, "gifts_from_channels": True,
            },
        })
        return info

    def _member_object(self, chat: ChatState, user_id: int) -> dict[str, Any]:
        """A ``ChatMember`` object as Telegram shapes it for each status."""
        if user_id == self.bot_user["id"]:
            user, status = self.bot_user, chat.bot_status
        else:
            profile = self._users.get(user_id)
            user = profile.to_user() if profile else {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
            status = chat.members.get(user_id, "left")
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(CHANNEL_ADMIN_RIGHTS if chat.type == "channel" else ADMIN_RIGHTS)
        elif status == "kicked":
            member["until_date"] = 0
        return member

    async def _m_getChatMember(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=False)
        user_id = params.int("user_id")
        if user_id is None:
            raise _bad("user_id is empty")
        if chat.is_private:
            if user_id not in (chat.id, self.bot_user["id"]):
                raise _bad("user not found")
            return {"status": "member", "user": self.bot_user if user_id == self.bot_user["id"] else chat.user.to_user()}  # type: ignore[union-attr]
        if user_id != self.bot_user["id"] and user_id not in self._users:
            raise _bad("user not found")
        return self._member_object(chat, user_id)

    async def _m_getChatAdministrators(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=False)
        if chat.is_private:
            return [{"status": "member", "user": self.bot_user}, {"status": "member", "user": chat.user.to_user()}]  # type: ignore[union-attr]
        ids = [uid for uid, status in chat.members.items() if status in ("creator", "administrator")]
        if chat.bot_status == "administrator":
            ids.append(self.bot_user["id"])
        return [self._member_object(chat, uid) for uid in ids]

    async def _m_getChatMemberCount(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=False)
        if chat.is_private:
            return 2
        present = ("creator", "administrator", "member")
        return sum(1 for status in chat.members.values() if status in present) + (chat.bot_status in present)

    async def _m_leaveChat(self, params: Params) -> Any:
        chat = self._chat_for(params, sending=False)
        if chat.is_private:
            raise _bad("chat member status can't be changed in private chats")
        self._set_bot_status(chat, "left", by=None)
        return True

    async def _m_getFile(self, params: Params) -> Any:
        stored = self._files.get(params.str("file_id") or "")
        if stored is None:
            raise _bad("invalid file_id")
        return {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                "file_size": len(stored.data), "file_path": stored.file_path}

    async def _m_setChatMenuButton(self, params: Params) -> Any:
        button = params.json("menu_button") or {"type": "default"}
        if params.raw("chat_id") is not None:
            self._chat_for(params, sending=False).menu_button = button
        else:
            self._default_menu_button = button
        return True

    async def _m_getChatMenuButton(self, params: Params) -> Any:
        if params.raw("chat_id") is not None:
            chat = self._chat_for(params, sending=False)
            if chat.menu_button is not None:
                return chat.menu_button
        return self._default_menu_button

    # ------------------------------------------------------------ inbound side

    def upsert_user(self, user_id: int, **profile: Any) -> UserProfile:
        """Create or update a user (and their private chat with the bot)."""
        user = self._users.get(user_id)
        fields = {k: v for k, v in profile.items() if k in
                  ("first_name", "last_name", "username", "language_code") and v is not None}
        if user is None:
            fields.setdefault("first_name", f"User{user_id}")
            user = UserProfile(user_id, **fields)
            self._users[user_id] = user
            self._chats[user_id] = ChatState(user)
        else:
            for key, value in fields.items():
                setattr(user, key, value)
        return user

    def _enqueue(self, kind: str, body: dict[str, Any], chat_id: int | None) -> int | None:
        """Create an update unless ``allowed_updates`` filters it out (as Telegram does)."""
        if kind not in self._allowed_updates:
            self._counters["updates_filtered"] += 1
            return None
        update_id = next(self._update_ids)
        self._updates.append(PendingUpdate(update_id, {"update_id": update_id, kind: body}, chat_id))
        self._counters["updates"] += 1
        self._signal.notify()
        if self._webhook_wakeup is not None:
            self._webhook_wakeup.set()
        return update_id

    def inject_update(self, kind: str, body: Any, chat_id: int | None = None) -> dict[str, Any]:
        """Queue a raw update as given, valid or not: robustness tests only.

        Telegram never sends a location off the globe or a message without a chat, but
        a bot must survive a server or proxy that does.
        """
        chat = self._chats.get(chat_id) if chat_id is not None else None
        seq = chat.seq if chat is not None else 0
        return {"update_id": self._enqueue(kind, body, chat_id), "chat_id": chat_id, "seq": seq}

    def _chat_of(self, user: UserProfile, chat_id: int | None) -> ChatState:
        """The user's private chat, or a group the user writes in."""
        if chat_id is None or int(chat_id) == user.id:
            return self._chats[user.id]
        chat = self._chats.get(int(chat_id))
        if chat is None or chat.is_private:
            raise ControlError(f"no group chat {chat_id}; create it with POST /sandbox/chats/{chat_id}")
        if chat.type == "channel":
            raise ControlError("members do not write in a channel; post with POST /sandbox/chats/{id}/post")
        if chat.members.get(user.id) not in ("creator", "administrator", "member"):
            raise ControlError(f"user {user.id} is not a member of chat {chat_id}")
        return chat

    def _reaches_bot(self, chat: ChatState, message: dict[str, Any]) -> bool:
        """Whether Telegram gives a group message to the bot (privacy mode, as by default)."""
        if chat.is_private:
            return True
        if chat.bot_status not in ("creator", "administrator", "member"):
            return False
        if chat.bot_status in ("creator", "administrator") or self.bot_user.get("can_read_all_group_messages"):
            return True
        text = message.get("text") or ""
        match = _COMMAND_RE.match(text)
        if match:
            mention = match.group(1)
            # "/cmd@this_bot" always; a bare "/cmd" too (the sandbox has no other bots to compete for it).
            return mention is None or mention[1:].lower() == str(self.bot_user["username"]).lower()
        replied = message.get("reply_to_message") or {}
        return (replied.get("from") or {}).get("id") == self.bot_user["id"]

    def _user_message(self, user: UserProfile, extra: dict[str, Any], chat: ChatState | None = None) -> dict[str, Any]:
        chat = chat if chat is not None else self._chats[user.id]
        if chat.is_private and chat.failure is not None and chat.failure.mode in ("blocked", "deactivated"):
            raise ControlError("the user blocked the bot; clear the failure first")
        message = {
            "message_id": chat.take_message_id(),
            "from": user.to_user(),
            "chat": chat.to_chat(),
            "date": int(time.time()),
            **extra,
        }
        chat.inbound.append(message)
        chat.inbound_by_id[message["message_id"]] = message
        seq = chat.seq
        update_id = self._enqueue("message", message, chat.id) if self._reaches_bot(chat, message) else None
        return {"update_id": update_id, "chat_id": chat.id, "seq": seq,
                "message_id": message["message_id"]}

    def user_text(self, user_id: int, text: str, reply_to_message_id: int | None = None,
                  chat_id: int | None = None, thread_id: int | None = None, **profile: Any) -> dict[str, Any]:
        """The user sends ``text`` to the bot, or in the group ``chat_id``; commands get a ``bot_command`` entity."""
        if not text or not text.strip():
            raise ControlError("a Telegram client cannot send an empty message")
        if utf16_len(text) > MAX_TEXT:
            raise ControlError("a Telegram client splits messages longer than 4096 characters")
        user = self.upsert_user(user_id, **profile)
        chat = self._chat_of(user, chat_id)
        extra: dict[str, Any] = {"text": text}
        match = _COMMAND_RE.match(text)
        if match:
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]
        if reply_to_message_id is not None:
            target = chat.messages.get(reply_to_message_id)
            if target is not None and not target["deleted"]:
                extra["reply_to_message"] = self._message_object(chat, target)
            elif reply_to_message_id in chat.inbound_by_id:
                extra["reply_to_message"] = chat.inbound_by_id[reply_to_message_id]
            else:
                raise ControlError("no such message to reply to")
        if thread_id is not None:
            if not chat.is_forum or int(thread_id) not in chat.topics:
                raise ControlError(f"chat {chat.id} has no topic {thread_id}")
            extra["message_thread_id"] = int(thread_id)
            extra["is_topic_message"] = True
        return self._user_message(user, extra, chat)

    def user_location(self, user_id: int, latitude: float, longitude: float, chat_id: int | None = None,
                      **profile: Any) -> dict[str, Any]:
        """The user shares a location (as from a request_location button, or in a group)."""
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise ControlError("latitude/longitude out of range")
        user = self.upsert_user(user_id, **profile)
        chat = self._chat_of(user, chat_id)
        return self._user_message(user, {"location": {"latitude": latitude, "longitude": longitude}}, chat)

    def user_contact(self, user_id: int, phone_number: str, **profile: Any) -> dict[str, Any]:
        """The user shares their own contact."""
        user = self.upsert_user(user_id, **profile)
        contact = {"phone_number": phone_number, "first_name": user.first_name, "user_id": user.id}
        if user.last_name:
            contact["last_name"] = user.last_name
        return self._user_message(user, {"contact": contact})

    def user_callback(self, user_id: int, message_id: int, *, data: str | None = None,
                      text: str | None = None, forged: bool = False, chat_id: int | None = None,
                      **profile: Any) -> dict[str, Any]:
        """The user presses an inline button (or, with ``forged``, sends arbitrary data).

        In a group or channel anyone who sees the message can press its buttons.
        """
        user = self.upsert_user(user_id, **profile)
        if chat_id is None or int(chat_id) == user_id:
            chat = self._chats[user_id]
        else:
            chat = self._chats.get(int(chat_id))  # type: ignore[assignment]
            if chat is None:
                raise ControlError(f"no chat {chat_id}")
        entry = chat.messages.get(message_id)
        if entry is None or entry["deleted"]:
            raise ControlError(f"no bot message {message_id} in chat {chat.id}")
        if forged:
            if data is None or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
                raise ControlError("forged callback data must be 1-64 bytes (MTProto limit)")
        else:
            buttons = [b for row in (entry["reply_markup"] or {}).get("inline_keyboard", []) for b in row]
            match = [b for b in buttons if (text is not None and b.get("text") == text)
                     or (text is None and data is not None and b.get("callback_data") == data)]
            if not match:
                raise ControlError(f"message {message_id} has no such inline button")
            if "callback_data" not in match[0]:
                raise ControlError("that button does not send a callback query")
            data = match[0]["callback_data"]
        assert data is not None
        query_id = str(secrets.randbits(63))
        query = {
            "id": query_id,
            "from": user.to_user(),
            "message": self._message_object(chat, entry),
            "chat_instance": str((chat.id * 2654435761 + self.bot_user["id"]) % 10**18),
            "data": data,
        }
        seq = chat.seq
        update_id = self._enqueue("callback_query", query, chat.id)
        if update_id is not None:
            self._callbacks[query_id] = CallbackQueryState(chat.id, message_id, data)
        chat.inbound.append({"callback_query": {"id": query_id, "message_id": message_id, "data": data,
                                                "forged": forged, "from": user_id}})
        return {"update_id": update_id, "chat_id": chat.id, "seq": seq, "callback_query_id": query_id}

    def set_failure(self, chat_id: int, mode: str, count: int | None = None, retry_after: int = 5) -> None:
        """Inject a failure for ``chat_id`` (``mode='none'`` clears it)."""
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id < 0:
                raise ControlError(f"no group chat {chat_id}")
            chat = self._chats[self.upsert_user(chat_id).id]
        was_blocked = chat.is_private and chat.failure is not None and chat.failure.mode == "blocked"
        if mode == "none":
            chat.failure = None
        elif mode in FAILURE_MODES:
            chat.failure = Failure(mode, count, retry_after)
        else:
            raise ControlError(f"unknown failure mode {mode!r}; use one of {FAILURE_MODES}")
        now_blocked = chat.is_private and chat.failure is not None and chat.failure.mode == "blocked"
        if was_blocked != now_blocked and chat.user is not None:
            # Blocking/unblocking the bot produces a my_chat_member update on Telegram.
            old, new = ("member", "kicked") if now_blocked else ("kicked", "member")
            member = {"user": self.bot_user}

            def status(name: str) -> dict[str, Any]:
                return {"status": name, **member, **({"until_date": 0} if name == "kicked" else {})}

            self._enqueue("my_chat_member", {
                "chat": chat.to_chat(), "from": chat.user.to_user(), "date": int(time.time()),
                "old_chat_member": status(old), "new_chat_member": status(new),
            }, chat_id)

    # ------------------------------------------------------------ groups and channels

    def upsert_group(self, chat_id: int, type: str = "supergroup", title: str | None = None,
                     username: str | None = None, is_forum: bool | None = None) -> ChatState:
        """Create or update a group, supergroup or channel; its id is negative, as on Telegram."""
        if chat_id >= 0:
            raise ControlError("group and channel ids are negative (supergroups and channels: -100...)")
        if type not in GROUP_TYPES:
            raise ControlError(f"type must be one of {GROUP_TYPES}")
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = ChatState(None, chat_id=chat_id, type=type, title=title or f"Group {-chat_id}",
                             username=username, bot_status="left")
            self._chats[chat_id] = chat
        else:
            if chat.type != type:
                raise ControlError(f"chat {chat_id} is a {chat.type}")
            chat.title = title or chat.title
            chat.username = username or chat.username
        if is_forum is not None:
            if is_forum and chat.type != "supergroup":
                raise ControlError("only supergroups can be forums")
            chat.is_forum = bool(is_forum)
        return chat

    def create_topic(self, chat_id: int, name: str, by: int) -> dict[str, Any]:
        """A member opens a forum topic; its id is that of the ``forum_topic_created`` service message."""
        chat = self._chats.get(chat_id)
        if chat is None or not chat.is_forum:
            raise ControlError(f"chat {chat_id} is not a forum")
        if not 1 <= len(name or "") <= 128:
            raise ControlError("a topic name has 1-128 characters")
        user = self.upsert_user(by)
        if chat.members.get(user.id) not in ("creator", "administrator", "member"):
            raise ControlError(f"user {by} is not a member of chat {chat_id}")
        message = {"message_id": chat.take_message_id(), "from": user.to_user(), "chat": chat.to_chat(),
                   "date": int(time.time()), "is_topic_message": True,
                   "forum_topic_created": {"name": name, "icon_color": 7322096}}
        message["message_thread_id"] = message["message_id"]
        chat.topics[message["message_id"]] = name
        chat.inbound.append(message)
        chat.inbound_by_id[message["message_id"]] = message
        seq = chat.seq
        update_id = self._enqueue("message", message, chat.id) if chat.bot_status in ("creator", "administrator") else None
        return {"update_id": update_id, "chat_id": chat_id, "seq": seq, "message_thread_id": message["message_id"]}

    # ------------------------------------------------------------ inline mode

    def set_inline_mode(self, enabled: bool, placeholder: str | None = None) -> None:
        """BotFather's /setinline: Telegram's clients send inline queries only when it is on."""
        self.bot_user["supports_inline_queries"] = bool(enabled)
        if enabled and placeholder:
            self.bot_user["inline_placeholder"] = placeholder

    def user_inline_query(self, user_id: int, query: str, chat_type: str | None = "private",
                          offset: str = "", **profile: Any) -> dict[str, Any]:
        """The user types ``@bot query`` in a chat: an ``inline_query`` update."""
        if not self.bot_user.get("supports_inline_queries"):
            raise ControlError("inline mode is off for this bot (BotFather /setinline); enable it with POST /sandbox/bot")
        if len(query) > 256:
            raise ControlError("a Telegram client sends at most 256 characters of an inline query")
        user = self.upsert_user(user_id, **profile)
        query_id = str(secrets.randbits(63))
        body: dict[str, Any] = {"id": query_id, "from": user.to_user(), "query": query, "offset": offset}
        if chat_type:
            body["chat_type"] = chat_type
        self._inline[query_id] = InlineQueryState(user.id, query, time.monotonic())
        update_id = self._enqueue("inline_query", body, None)
        return {"update_id": update_id, "inline_query_id": query_id}

    async def wait_inline_answer(self, query_id: str, timeout: float = 10.0) -> dict[str, Any]:
        state = self._inline.get(query_id)
        if state is None:
            raise ControlError(f"no inline query {query_id}")
        deadline = time.monotonic() + timeout
        while state.answer is None and time.monotonic() < deadline:
            await self._signal.wait(deadline - time.monotonic())
        if state.answer is None:
            raise ControlError("the bot did not answer the inline query in time")
        return state.answer

    async def _m_answerInlineQuery(self, params: Params) -> Any:
        query_id = params.str("inline_query_id") or ""
        state = self._inline.get(query_id)
        if state is None or state.answer is not None or time.monotonic() - state.created > INLINE_ANSWER_TIMEOUT:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        results = params.json("results", "can't parse inline query results JSON object")
        if not isinstance(results, list):
            raise _bad("can't parse inline query results JSON object")
        if len(results) > 50:
            raise _bad("RESULTS_TOO_MUCH")
        seen: set[str] = set()
        shown = []
        for result in results:
            if not isinstance(result, dict) or result.get("type") not in INLINE_RESULT_TYPES:
                raise _bad("RESULT_TYPE_INVALID")
            result_id = str(result.get("id") or "")
            if not 1 <= len(result_id.encode("utf-8")) <= 64:
                raise _bad("RESULT_ID_INVALID")
            if result_id in seen:
                raise _bad("RESULT_ID_DUPLICATE")
            seen.add(result_id)
            item = copy.deepcopy(result)
            if result["type"] == "article":
                if not result.get("title"):
                    raise _bad("RESULT_TITLE_EMPTY")
                content = result.get("input_message_content")
                if not isinstance(content, dict) or not content.get("message_text"):
                    raise _bad("MESSAGE_EMPTY")
                content_params = Params({"parse_mode": content.get("parse_mode"), "entities": content.get("entities")})
                item["plain"], item["entities"] = self._format(str(content["message_text"]), content_params, caption=False)
            if result.get("reply_markup") is not None:
                item["reply_markup"] = _validate_markup(result["reply_markup"])
                if "inline_keyboard" not in item["reply_markup"]:
                    raise _bad("inline keyboard expected")
            shown.append(item)
        cache_time = params.int("cache_time")
        state.answer = {"results": shown, "cache_time": 300 if cache_time is None else cache_time,
                        "is_personal": params.bool("is_personal"), "next_offset": params.str("next_offset") or ""}
        self._signal.notify()
        return True

    def set_member(self, chat_id: int, user_id: int, status: str, by: int | None = None) -> dict[str, Any]:
        """A user joins, leaves, is promoted or banned; for the bot's own id, the bot is added or removed.

        The bot hears about its own status as ``my_chat_member`` (plus the service message
        groups show); about others' as a ``new_chat_members``/``left_chat_member`` service
        message when it is in the group, and as ``chat_member`` only as an administrator and
        only if it asked for it in ``allowed_updates``.
        """
        chat = self._chats.get(chat_id)
        if chat is None or chat.is_private:
            raise ControlError(f"no group chat {chat_id}")
        if status not in MEMBER_STATUSES:
            raise ControlError(f"status must be one of {MEMBER_STATUSES}")
        actor = self.upsert_user(by) if by is not None else None
        seq = chat.seq
        if user_id == self.bot_user["id"]:
            if status == "creator":
                raise ControlError("a bot cannot own a chat")
            update_id = self._set_bot_status(chat, status, by=actor)
            return {"update_id": update_id, "chat_id": chat_id, "seq": seq}
        user = self.upsert_user(user_id)
        old = chat.members.get(user_id, "left")
        chat.members[user_id] = status
        update_id = None
        present = ("creator", "administrator", "member")
        if chat.type != "channel" and chat.bot_status in present and (old in present) != (status in present):
            service = {"new_chat_members": [user.to_user()]} if status in present else {"left_chat_member": user.to_user()}
            update_id = self._service_message(chat, actor or user, service)
        if chat.bot_status == "administrator" and old != status:
            self._enqueue("chat_member", self._member_update(chat, actor or user, old, status, user_id), chat_id)
        return {"update_id": update_id, "chat_id": chat_id, "seq": seq}

    def _member_update(self, chat: ChatState, actor: UserProfile | None, old: str, new: str, user_id: int) -> dict[str, Any]:
        before = self._member_object(chat, user_id)
        before["status"] = old
        for key in [*CHANNEL_ADMIN_RIGHTS, "until_date"]:
            before.pop(key, None)
        if old == "administrator":
            before.update(CHANNEL_ADMIN_RIGHTS if chat.type == "channel" else ADMIN_RIGHTS)
        elif old == "kicked":
            before["until_date"] = 0
        elif old == "creator":
            before["is_anonymous"] = False
        return {"chat": chat.to_chat(), "from": (actor.to_user() if actor else self.bot_user), "date": int(time.time()),
                "old_chat_member": before, "new_chat_member": self._member_object(chat, user_id)}

    def _set_bot_status(self, chat: ChatState, status: str, by: UserProfile | None) -> int | None:
        old = chat.bot_status
        if old == status:
            return None
        chat.bot_status = status
        present = ("administrator", "member")
        update_id = self._enqueue("my_chat_member", self._member_update(chat, by, old, status, self.bot_user["id"]), chat.id)
        if chat.type != "channel" and (old in present) != (status in present) and by is not None:
            service = {"new_chat_members": [self.bot_user]} if status in present else {"left_chat_member": self.bot_user}
            if status in present:
                self._service_message(chat, by, service)
        return update_id

    def _service_message(self, chat: ChatState, actor: UserProfile, extra: dict[str, Any]) -> int | None:
        message = {"message_id": chat.take_message_id(), "from": actor.to_user(), "chat": chat.to_chat(),
                   "date": int(time.time()), **extra}
        chat.inbound.append(message)
        chat.inbound_by_id[message["message_id"]] = message
        if chat.bot_status not in ("creator", "administrator", "member"):
            return None
        return self._enqueue("message", message, chat.id)

    def channel_post(self, chat_id: int, text: str, author_signature: str | None = None) -> dict[str, Any]:
        """An administrator posts ``text`` in a channel; the bot receives it only as an administrator."""
        chat = self._chats.get(chat_id)
        if chat is None or chat.type != "channel":
            raise ControlError(f"no channel {chat_id}")
        if not text or not text.strip():
            raise ControlError("a Telegram client cannot send an empty message")
        post: dict[str, Any] = {"message_id": chat.take_message_id(), "sender_chat": chat.to_chat(),
                                "chat": chat.to_chat(), "date": int(time.time()), "text": text}
        match = _COMMAND_RE.match(text)
        if match:
            post["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]
        if author_signature:
            post["author_signature"] = author_signature
        chat.inbound.append(post)
        chat.inbound_by_id[post["message_id"]] = post
        seq = chat.seq
        update_id = self._enqueue("channel_post", post, chat_id) if chat.bot_status == "administrator" else None
        return {"update_id": update_id, "chat_id": chat_id, "seq": seq, "message_id": post["message_id"]}

    # ------------------------------------------------------------ waiting

    async def wait_for_reaction(self, chat_id: int, since: int, update_id: int | None = None,
                                settle: float = 0.3, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait for the bot's reaction in ``chat_id`` and return actions after ``since``.

        First waits until ``update_id`` was fetched by the bot.  If an in-process bot
        reports handled updates (:meth:`attach_reporter`), then waits until it has
        handled it; otherwise until the bot acted in the chat and was quiet for
        ``settle`` seconds.  Returns whatever happened (possibly nothing) when
        ``timeout`` expires.
        """
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        deadline = time.monotonic() + timeout
        if update_id is not None:
            while update_id not in self._fetched and time.monotonic() < deadline:
                await self._signal.wait(deadline - time.monotonic())
            if update_id in self._awaiting or update_id in self._handled:
                while update_id not in self._handled and self._reporters and time.monotonic() < deadline:
                    await self._signal.wait(deadline - time.monotonic())
                if update_id in self._handled:
                    return [a for a in chat.actions if a["seq"] > since]
        while chat.seq <= since and time.monotonic() < deadline:
            await self._signal.wait(deadline - time.monotonic())
        while chat.seq > since:
            now = time.monotonic()
            quiet_until = chat.last_action_at + settle
            if now >= quiet_until or now >= deadline:
                break
            await self._signal.wait(min(quiet_until, deadline) - now)
        return [a for a in chat.actions if a["seq"] > since]

    # ------------------------------------------------------------ webhook

    async def _webhook_loop(self) -> None:
        assert self._webhook_wakeup is not None
        while True:
            await self._webhook_wakeup.wait()
            self._webhook_wakeup.clear()
            hook = self._webhook
            if hook is None:
                continue
            in_flight = sum(1 for u in self._updates if u.in_flight)
            for update in list(self._updates):
                if in_flight >= hook.max_connections:
                    break
                if update.in_flight or update.gave_up:
                    continue
                # Keep per-chat order: one update per chat in flight at a time.
                if any(u.in_flight and u.chat_id == update.chat_id for u in self._updates):
                    continue
                update.in_flight = True
                in_flight += 1
                task = asyncio.create_task(self._deliver(hook, update))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _deliver(self, hook: WebhookState, update: PendingUpdate) -> None:
        assert self._http is not None
        headers = {"Content-Type": "application/json"}
        if hook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
        reply: dict[str, Any] | None = None
        delivered = False
        try:
            for attempt in range(self.webhook_retries):
                if self._webhook is not hook:
                    return
                self._fetched.setdefault(update.update_id, time.monotonic())
                self._signal.notify()
                try:
                    async with self._http.post(hook.url, data=json.dumps(update.payload), headers=headers,
                                               timeout=aiohttp.ClientTimeout(total=60)) as resp:
                        if 200 <= resp.status < 300:
                            delivered = True
                            reply = await _read_webhook_reply(resp)
                            break
                        error = f"Wrong response from the webhook: {resp.status} {resp.reason}"
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
                    error = f"Connection failed: {type(exc).__name__}: {exc}"
                hook.last_error_date = int(time.time())
                hook.last_error_message = error
                self._counters["webhook_failures"] += 1
                await asyncio.sleep(0.1 * (attempt + 1))
        finally:
            update.in_flight = False
            if delivered and update in self._updates:
                self._updates.remove(update)
            elif not delivered:
                update.gave_up = True  # retried again after the next setWebhook
            if self._webhook_wakeup is not None:
                self._webhook_wakeup.set()
        if reply and isinstance(reply.get("method"), str):
            method = reply.pop("method")
            files = reply.pop("__files__", {})
            try:
                await self.call(method, Params(reply, files))
            except ApiError:
                # Telegram never reports errors of webhook replies; only count them.
                self._counters["webhook_reply_errors"] += 1

    # ------------------------------------------------------------ statistics

    def stats(self) -> dict[str, Any]:
        """Counters and send timing, e.g. for a broadcast benchmark.

        ``max_per_second`` is the largest number of messages sent in any sliding
        1-second window; ``per_chat_violations`` counts consecutive sends to the
        same chat less than 1 s apart (Telegram's per-chat guideline).
        """
        times = [t for t, _ in self._send_log]
        per_chat: dict[str, Any] = {}
        violations = 0
        for chat_id, chat in self._chats.items():
            if not chat.send_times:
                continue
            chat_violations = sum(1 for a, b in zip(chat.send_times, chat.send_times[1:]) if b - a < 1.0)
            violations += chat_violations
            per_chat[str(chat_id)] = {
                "sends": len(chat.send_times),
                "violations": chat_violations,
                "max_per_second": _max_in_window(chat.send_times),
                "max_per_minute": _max_in_window(chat.send_times, 60.0),  # Telegram: about 20 a minute in a group
                "times": [round(t, 4) for t in chat.send_times],
            }
        unanswered = sum(1 for c in self._callbacks.values() if not c.answered)
        return {
            "bot_id": self.bot_user["id"],
            "requests": self._counters["requests"],
            "methods": dict(self._methods),
            "errors": dict(self._errors),
            "sent_messages": len(times),
            "retry_after_429": self._counters["retry_after_429"],
            "flood_429": self._counters["flood_429"],
            "group_429": self._counters["group_429"],
            "max_per_second": _max_in_window(times),
            "per_chat_violations": violations,
            "per_chat": per_chat,
            "updates": self._counters["updates"],
            "updates_filtered": self._counters["updates_filtered"],
            "pending_updates": len(self._updates),
            "unanswered_callback_queries": unanswered,
            "webhook_failures": self._counters["webhook_failures"],
            "webhook_reply_errors": self._counters["webhook_reply_errors"],
        }

    def visible_commands(self, user_id: int, chat_id: int | None = None) -> list[dict[str, str]]:
        """Commands a user's client shows in a private chat, or in the group ``chat_id`` (Telegram's fallback order)."""
        user = self._users.get(user_id)
        language = (user.language_code or "")[:2] if user else ""
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is not None and not chat.is_private:
            admin = chat.members.get(user_id) in ("creator", "administrator")
            scopes = [_scope_key({"type": "chat_member", "chat_id": chat.id, "user_id": user_id}),
                      *([_scope_key({"type": "chat_administrators", "chat_id": chat.id})] if admin else []),
                      _scope_key({"type": "chat", "chat_id": chat.id}),
                      *([_scope_key({"type": "all_chat_administrators"})] if admin else []),
                      _scope_key({"type": "all_group_chats"}), _scope_key({"type": "default"})]
        else:
            scopes = [_scope_key({"type": "chat", "chat_id": user_id}),
                      _scope_key({"type": "all_private_chats"}), _scope_key({"type": "default"})]
        for scope in scopes:
            for lang in ([language, ""] if language else [""]):
                if (scope, lang) in self._commands:
                    return self._commands[(scope, lang)]
        return []

    # ------------------------------------------------------------ control API

    def chat(self, chat_id: int) -> ChatState:
        """State of a chat (for in-process tests); raises ``KeyError`` if unknown."""
        return self._chats[chat_id]

    async def _c_user(self, request: web.Request) -> web.Response:
        return await _control(request, lambda body, uid: self.upsert_user(uid, **body).to_user())

    async def _c_message(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            text = body.pop("text", None)
            if not isinstance(text, str):
                raise ControlError("'text' is required")
            return self.user_text(uid, text, **body)
        return await _control(request, run)

    async def _c_location(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            try:
                lat, lon = float(body.pop("latitude")), float(body.pop("longitude"))
            except (KeyError, TypeError, ValueError):
                raise ControlError("'latitude' and 'longitude' are required") from None
            return self.user_location(uid, lat, lon, **body)
        return await _control(request, run)

    async def _c_contact(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            phone = body.pop("phone_number", None)
            if not phone:
                raise ControlError("'phone_number' is required")
            return self.user_contact(uid, str(phone), **body)
        return await _control(request, run)

    async def _c_callback(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            return self.user_callback(uid, int(body.pop("message_id", 0)), data=body.pop("data", None),
                                      text=body.pop("text", None), **body)
        return await _control(request, run)

    async def _c_forge_callback(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            return self.user_callback(uid, int(body.pop("message_id", 0)), data=body.pop("data", None),
                                      forged=True, **body)
        return await _control(request, run)

    async def _c_commands(self, request: web.Request) -> web.Response:
        chat_id = request.query.get("chat_id")
        return await _control(request, lambda body, uid: {
            "commands": self.visible_commands(uid, int(chat_id) if chat_id else None)}, read_body=False)

    async def _c_wait(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            chat_id = int(body["chat_id"])
        except (ValueError, KeyError, TypeError):
            return web.json_response({"ok": False, "error": "'chat_id' is required"}, status=400)
        actions = await self.wait_for_reaction(
            chat_id, int(body.get("since", 0)), body.get("update_id"),
            float(body.get("settle", 0.3)), float(body.get("timeout", 10.0)))
        seq = self._chats[chat_id].seq if chat_id in self._chats else 0
        return web.json_response({"ok": True, "actions": actions, "seq": seq})

    async def _c_idle(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
            timeout = float(body.get("timeout", 10.0))
            settle = float(body.get("settle", 0.3))
        except (ValueError, TypeError, AttributeError):
            return web.json_response({"ok": False, "error": "'timeout' and 'settle' are numbers"}, status=400)
        idle = await self.wait_idle(timeout, settle)
        return web.json_response({"ok": True, "idle": idle})

    def _chat_or_404(self, request: web.Request) -> ChatState:
        try:
            return self._chats[int(request.match_info["chat_id"])]
        except (KeyError, ValueError):
            raise ControlError("unknown chat", status=404) from None

    async def _c_transcript(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            chat = self._chat_or_404(request)
            inbound = [{k: v for k, v in m.items()} for m in chat.inbound]
            return {"entries": chat.entries, "inbound": inbound, "seq": chat.seq, "chat": chat.to_chat(),
                    "bot_status": chat.bot_status, "members": {str(k): v for k, v in chat.members.items()},
                    "reply_keyboard": chat.reply_keyboard,
                    "reply_keyboard_message_id": chat.reply_keyboard_message_id}
        return await _control(request, run, id_key="chat_id", read_body=False)

    async def _c_actions(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            chat = self._chat_or_404(request)
            since = int(request.query.get("since", "0"))
            return {"actions": [a for a in chat.actions if a["seq"] > since], "seq": chat.seq}
        return await _control(request, run, id_key="chat_id", read_body=False)

    async def _c_group(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], chat_id: int) -> Any:
            chat = self.upsert_group(chat_id, str(body.get("type", "supergroup")), body.get("title"), body.get("username"),
                                     body.get("is_forum"))
            return {"chat": chat.to_chat(), "bot_status": chat.bot_status}
        return await _control(request, run, id_key="chat_id")

    async def _c_member(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], chat_id: int) -> Any:
            user_id = int(request.match_info["user_id"])
            profile = {k: body[k] for k in ("first_name", "last_name", "username", "language_code") if k in body}
            if profile and user_id != self.bot_user["id"]:
                self.upsert_user(user_id, **profile)
            by = body.get("by")
            return self.set_member(chat_id, user_id, str(body.get("status", "member")), int(by) if by is not None else None)
        return await _control(request, run, id_key="chat_id")

    async def _c_post(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], chat_id: int) -> Any:
            text = body.get("text")
            if not isinstance(text, str):
                raise ControlError("'text' is required")
            return self.channel_post(chat_id, text, body.get("author_signature"))
        return await _control(request, run, id_key="chat_id")

    async def _c_topic(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], chat_id: int) -> Any:
            if body.get("by") is None:
                raise ControlError("'by' (the member opening the topic) is required")
            return self.create_topic(chat_id, str(body.get("name") or ""), int(body["by"]))
        return await _control(request, run, id_key="chat_id")

    async def _c_bot(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], _id: int) -> Any:
            if "inline" in body:
                self.set_inline_mode(bool(body["inline"]), body.get("placeholder"))
            return {"bot": self.bot_user}
        return await _control(request, run, id_key="none")

    async def _c_inline(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], uid: int) -> Any:
            query = body.pop("query", "")
            if not isinstance(query, str):
                raise ControlError("'query' must be a string")
            return self.user_inline_query(uid, query, body.pop("chat_type", "private"), str(body.pop("offset", "")), **body)
        return await _control(request, run)

    async def _c_inline_wait(self, request: web.Request) -> web.Response:
        try:
            body = await request.json() if request.can_read_body else {}
            answer = await self.wait_inline_answer(request.match_info["query_id"], float(body.get("timeout", 10.0)))
        except ControlError as exc:
            return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
        return web.json_response({"ok": True, **answer})

    async def _c_fail(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], chat_id: int) -> Any:
            count = body.get("count")
            self.set_failure(chat_id, str(body.get("mode", "")), None if count is None else int(count),
                             int(body.get("retry_after", 5)))
            return {"chat_id": chat_id}
        return await _control(request, run, id_key="chat_id")

    async def _c_unfail(self, request: web.Request) -> web.Response:
        def run(body: dict[str, Any], chat_id: int) -> Any:
            self.set_failure(chat_id, "none")
            return {"chat_id": chat_id}
        return await _control(request, run, id_key="chat_id", read_body=False)

    async def _c_stats(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **self.stats()})

    async def _c_inject(self, request: web.Request) -> web.Response:
        body = await request.json()
        chat_id = body.get("chat_id")
        result = self.inject_update(str(body["kind"]), body.get("body"), int(chat_id) if chat_id is not None else None)
        return web.json_response({"ok": True, **result})

    async def _c_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return web.json_response({"ok": True})


# ---------------------------------------------------------------- helpers


async def _control(request: web.Request, run: Callable[[dict[str, Any], int], Any], *,
                   id_key: str = "user_id", read_body: bool = True) -> web.Response:
    """Common envelope of control endpoints: parse JSON, map errors to JSON."""
    try:
        object_id = int(request.match_info.get(id_key, "0"))
        body: dict[str, Any] = {}
        if read_body and request.can_read_body:
            body = await request.json()
            if not isinstance(body, dict):
                raise ControlError("JSON object expected")
        result = run(body, object_id)
    except ControlError as exc:
        return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
    except (ValueError, TypeError) as exc:
        return web.json_response({"ok": False, "error": f"bad request: {exc}"}, status=400)
    if isinstance(result, dict):
        return web.json_response({"ok": True, **result})
    return web.json_response({"ok": True, "result": result})


async def _read_multipart(reader: Any, values: dict[str, Any], files: dict[str, UploadedFile]) -> None:
    """Read multipart parts into string ``values`` and ``files`` (parts with a filename)."""
    while True:
        part = await reader.next()
        if part is None:
            break
        name = part.name
        if not name:
            continue
        if part.filename is not None:
            data = await part.read(decode=True)
            files[name] = UploadedFile(part.filename, bytes(data), part.headers.get("Content-Type"))
        else:
            values[name] = (await part.read(decode=True)).decode("utf-8", "replace")


async def _read_webhook_reply(resp: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """Parse a webhook response body carrying a Bot API call (JSON, form or multipart)."""
    ctype = resp.content_type
    try:
        if ctype == "application/json":
            body = await resp.json()
            return body if isinstance(body, dict) else None
        if ctype == "multipart/form-data":
            values: dict[str, Any] = {}
            files: dict[str, UploadedFile] = {}
            await _read_multipart(aiohttp.MultipartReader(resp.headers, resp.content), values, files)
            values["__files__"] = files
            return values
        if ctype == "application/x-www-form-urlencoded":
            return dict(parse_qsl(await resp.text()))
    except (ValueError, aiohttp.ClientError):
        return None
    return None


def _validate_markup(markup: Any) -> dict[str, Any]:
    """Validate reply_markup like Telegram; return a normalised copy."""
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays')
        if sum(len(r) for r in rows) > 100:
            raise _bad("reply markup is too long")
        clean_rows = []
        for row in rows:
            clean_row = []
            for button in row:
                clean_row.append(_validate_inline_button(button))
            if clean_row:
                clean_rows.append(clean_row)
        return {"inline_keyboard": clean_rows}
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays')
        clean_rows = []
        for row in rows:
            clean_row = []
            for button in row:
                if isinstance(button, str):
                    button = {"text": button}
                if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                    raise _bad("can't parse keyboard button: Field \"text\" must be of type String")
                if not button["text"].strip():
                    raise _bad("can't parse keyboard button: Text must be non-empty")
                clean_row.append(button)
            if clean_row:
                clean_rows.append(clean_row)
        result = {k: v for k, v in markup.items() if k != "keyboard"}
        result["keyboard"] = clean_rows
        return result
    if markup.get("remove_keyboard"):
        return {k: v for k, v in markup.items()}
    if markup.get("force_reply"):
        return {k: v for k, v in markup.items()}
    raise _bad("can't parse reply keyboard markup JSON object")


def _validate_inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str):
        raise _bad("can't parse inline keyboard button: Field \"text\" must be of type String")
    actions = [k for k in INLINE_BUTTON_ACTIONS if button.get(k) is not None and button.get(k) is not False]
    if not actions:
        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if not text.strip():
        raise _bad("BUTTON_TEXT_INVALID")
    if "callback_data" in actions:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in actions:
        url = str(button["url"])
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https", "tg") or not (parts.netloc or parts.scheme == "tg") \
                or " " in url:
            raise _bad("BUTTON_URL_INVALID")
    return dict(button)


def _location(params: Params) -> dict[str, Any]:
    latitude, longitude = params.float("latitude"), params.float("longitude")
    if latitude is None or longitude is None:
        raise _bad("wrong latitude/longitude specified")  # approximation of Telegram's text
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise _bad("wrong latitude/longitude specified")
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    accuracy = params.float("horizontal_accuracy")
    if accuracy is not None:
        location["horizontal_accuracy"] = accuracy
    return location


def _scope_key(scope: dict[str, Any]) -> str:
    known = {"type", "chat_id", "user_id"}
    return json.dumps({k: scope[k] for k in sorted(scope) if k in known}, sort_keys=True)


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) for PNG/GIF/JPEG/WebP/BMP bytes, None if not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            length = int.from_bytes(data[i + 2 : i + 4], "big")
            if marker in (0xC0, 0xC1, 0xC2):
                return int.from_bytes(data[i + 7 : i + 9], "big"), int.from_bytes(data[i + 5 : i + 7], "big")
            i += 2 + length
        return (800, 600)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return (800, 600)
    if data[:2] == b"BM" and len(data) >= 26:
        return int.from_bytes(data[18:22], "little"), abs(int.from_bytes(data[22:26], "little", signed=True))
    return None


def _max_in_window(times: list[float], window: float = 1.0) -> int:
    """Largest number of timestamps within any half-open ``window`` seconds."""
    best = 0
    start = 0
    for end, t in enumerate(times):
        while t - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
