"""Runs the real bot (our polling loop) against the sandbox for end-to-end tests.

When the sandbox runs in this process, the bot reports each update it has finished
handling (`run_polling(on_handled=...)`), so a test step returns as soon as the bot is
done instead of after a quiet period; the bot still talks HTTP to the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import subprocess
from dataclasses import dataclass, field

from aiogram import Bot

from bot.app import App, create_app, create_bot
from bot.config import Settings
from bot.runtime import run_polling
from sandbox.client import SandboxClient
from sandbox.server import SandboxServer


@dataclass
class RunningBot:
    """A bot process-in-a-task: start, talk through `client`, stop."""

    settings: Settings
    app: App = field(init=False)
    bot: Bot = field(init=False)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = field(init=False, default=None)
    _sandbox: SandboxServer | None = field(init=False, default=None)

    async def start(self) -> RunningBot:
        self.app = create_app(self.settings)
        self.bot = create_bot(self.settings)
        self._sandbox = SandboxServer.serving(self.settings.telegram_api_base)
        on_handled = None
        if self._sandbox is not None:
            self._sandbox.attach_reporter()
            on_handled = self._sandbox.report_handled
        self._task = asyncio.create_task(run_polling(self.bot, self.app.dispatcher, self._stop, on_handled=on_handled))
        return self

    async def stop(self) -> None:
        self._stop.set()
        try:
            if self._task is not None:
                await asyncio.wait_for(self._task, timeout=30)
        finally:
            if self._sandbox is not None:
                self._sandbox.detach_reporter()
                self._sandbox = None
            await self.bot.session.close()
            await self.app.close()


async def start_bot(sandbox: SandboxServer, settings: Settings) -> RunningBot:
    """A running bot for these settings."""
    return await RunningBot(settings).start()


def client_for(sandbox: SandboxServer) -> SandboxClient:
    return SandboxClient(sandbox.base_url)


def kardes(args: list[str], database_url: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`kardes ARGS` in this process, with the database and `env` in the environment; call it in a thread
    (the commands run their own event loop).

    The same `bot.cli.main` the console script runs, without paying a new interpreter's start-up
    (aiogram alone takes seconds to import); the tests about the process itself (no token, a fresh
    checkout, the demo, a signal) start a real one."""
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    overrides = {"DATABASE_URL": database_url, **env}
    saved = {name: os.environ.get(name) for name in overrides}
    os.environ.update(overrides)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
