"""The rate gate every message to members outside a reply passes: the bot's global rate, one
message per chat per second, and a 429 pause for the whole bot. One gate per bot and rate per
process, shared by the delivery engine (jobs/delivery.py) and the one sender (bot/notify.py)."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

from aiogram import Bot


class RateGate:
    """At most `rate` sends in any sliding second, evenly spaced, and one per chat per second.

    One gate per process: every announcement sending at once shares it. TelegramRetryAfter
    pauses the whole gate, since Telegram's flood control is per bot.

    Telegram counts a request when it arrives, somewhere between the gate letting it go and
    its answer, so the sliding second is widened by the request latency: a sender that
    reports back (`acquire(..., track=True)`, then `finished(token)`) lets the gate know the
    recent latency and how long the oldest request has been on its way; sends are counted
    for 1 s plus the larger of the two (at least `MARGIN`). A stalled server thus slows the
    gate down instead of earning a 429 and a whole second of pause. Sends are paced at
    `PACE` of the rate, so the widened second rarely binds. A late wake-up (asyncio sleeps
    with ~1 ms resolution, and the loop may be busy) releases the sends that fell due
    meanwhile, up to a small burst, rather than losing them.
    """

    PACE = 0.99
    MARGIN = 0.004  # seconds added to the sliding second, at least
    REMEMBER = 1.05  # a latency is remembered this long at least (two buckets): past its send's second

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.interval = 1.0 / (rate * self.PACE)
        self.cap = max(1, math.floor(rate))
        self.burst = min(0.05, max(self.interval, 8.0 / rate))  # how far behind the pace may catch up
        self._sent: deque[float] = deque()
        self._next = 0.0
        self._paused_until = 0.0
        self._chats: dict[int, float] = {}
        self._lock = asyncio.Lock()
        self._latency = [0.02, 0.0]  # the largest latency of the previous and the current bucket
        self._bucket_at = time.monotonic()
        self._tokens = 0
        self._flying: deque[tuple[int, float]] = deque()  # tracked sends not finished, in order
        self._landed: set[int] = set()

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    def paused_for(self) -> float:
        """Seconds left of a flood-control pause (0 when sending may go on)."""
        return max(0.0, self._paused_until - time.monotonic())

    def horizon(self, now: float) -> float:
        """How long a send counts in the sliding window: 1 s plus what it may take to arrive."""
        self._rotate(now)
        latency = max(self.MARGIN, *self._latency)
        flying, landed = self._flying, self._landed
        while flying and flying[0][0] in landed:
            landed.discard(flying.popleft()[0])
        if flying:
            latency = max(latency, now - flying[0][1])
        return 1.0 + min(latency, 1.0)

    def finished(self, token: int | None) -> None:
        """A tracked send got its answer (or failed): note its latency."""
        if token is None:
            return
        now = time.monotonic()
        self._landed.add(token)
        for key, started in self._flying:  # usually the first few
            if key == token:
                self._rotate(now)
                self._latency[1] = max(self._latency[1], now - started)
                break

    def _rotate(self, now: float) -> None:
        if now - self._bucket_at >= self.REMEMBER:
            self._latency = [self._latency[1] if now - self._bucket_at < 2 * self.REMEMBER else 0.0, 0.0]
            self._bucket_at = now

    async def acquire(self, chat_id: int, *, track: bool = False) -> int | None:
        """Wait for this chat's second and the bot's rate; with `track`, a token for `finished`.

        A chat's own second is waited out before queueing for the bot's rate, so a second message
        to one chat (several notices for one member) holds up nobody else."""
        while True:
            chat_wait = self._chats.get(chat_id, -10.0) + self.horizon(time.monotonic()) - time.monotonic()
            if chat_wait > 0:
                await asyncio.sleep(min(chat_wait, 0.05))
                continue
            async with self._lock:
                sent = self._sent
                while True:
                    now = time.monotonic()
                    horizon = self.horizon(now)
                    while sent and sent[0] <= now - horizon:
                        sent.popleft()
                    wait = max(self._next - now, self._paused_until - now)
                    if len(sent) >= self.cap:
                        wait = max(wait, sent[0] + horizon - now)
                    if wait <= 0:
                        break
                    await asyncio.sleep(min(wait, 0.05))  # the horizon may shrink meanwhile
                if self._chats.get(chat_id, -10.0) + horizon > now:
                    continue  # another send to this chat went first: its second again
                sent.append(now)
                self._chats[chat_id] = now
                # Catch up on small scheduling delays, never beyond the sliding-window cap.
                self._next = max(self._next + self.interval, now - self.burst)
                if len(self._chats) > 100_000:
                    self._chats = {chat: at for chat, at in self._chats.items() if at > now - horizon}
                if not track:
                    return None
                self._tokens += 1
                self._flying.append((self._tokens, now))
                return self._tokens

def window_for(rate: float) -> int:
    """Messages a sender may have taken but not yet recorded, at most: about 0.3 s of sending, at
    least 48 (the floor keeps commits few at low rates). The delivery engine's rule too."""
    return max(48, math.ceil(rate * 0.3))


def workers_for(rate: float) -> int:
    """Sends a sender keeps on their way at once: enough to cover the request latency at this rate."""
    return min(window_for(rate), max(4, math.ceil(rate * 0.1)))


_gates: dict[tuple[int, float], RateGate] = {}


def gate_for(bot: Bot, rate: float) -> RateGate:
    """The process-wide gate of a bot at a rate (the worker's jobs make it, at BROADCAST_RATE)."""
    key = (bot.id, rate)
    if key not in _gates:
        _gates[key] = RateGate(rate)
    return _gates[key]


def gate_of(bot: Bot) -> RateGate | None:
    """The gate this process's worker uses for the bot, if it runs one: a handler's notice goes
    through it too (a process that only serves updates has none)."""
    return next((gate for (bot_id, _rate), gate in reversed(_gates.items()) if bot_id == bot.id), None)
