"""Separate processes for the tests about processes (a signal, a kill, a restart), forked from one
warm interpreter per test worker instead of each starting Python afresh.

Importing aiogram costs seconds of CPU here (pydantic rebuilds its ~700 models), so a test that
starts two bots paid that twice. The processes are still real ones: their own pid, memory,
database connections and signal handlers, started by multiprocessing's forkserver, whose server
has imported the bot once (it holds no event loop, connection or thread to inherit). A child
runs the same `bot.cli.main` the console script runs, or a test script's `__main__`; what the
server loads is in tests/warm.py. The tests
of the interpreter's own start-up (no token, a fresh checkout, the demo) still start `python`.
"""

from __future__ import annotations

import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path

PRELOAD = ["tests.warm"]

_context: multiprocessing.context.ForkServerContext | None = None


def _forkserver() -> multiprocessing.context.ForkServerContext:
    global _context
    if _context is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        _context = context
    return _context


def _child(argv: list[str], env: dict[str, str], script: str | None, stderr_path: str, stdout: bool) -> None:
    os.environ.clear()
    os.environ.update(env)
    os.dup2(os.open(stderr_path, os.O_WRONLY | os.O_TRUNC), 2)
    if not stdout:
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    if script is not None:
        sys.argv = [script, *argv]
        runpy.run_path(script, run_name="__main__")
        return
    from bot.cli import main

    sys.exit(main(argv))


class WarmProcess:
    """The little of subprocess.Popen the tests use: poll, wait, send_signal, kill, returncode, stderr."""

    def __init__(self, argv: list[str], env: dict[str, str], script: str | Path | None = None, stdout: bool = False) -> None:
        handle, self._stderr_path = tempfile.mkstemp(prefix="kardes-stderr-")
        os.close(handle)
        self._process = _forkserver().Process(
            target=_child, args=(list(argv), dict(env), None if script is None else str(script), self._stderr_path, stdout),
            daemon=False)
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired("warm process", timeout or 0.0)
        return self._process.exitcode

    def send_signal(self, signum: int) -> None:
        if self._process.exitcode is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()

    def stderr_text(self) -> str:
        try:
            return Path(self._stderr_path).read_text(errors="replace")
        finally:
            if self._process.exitcode is not None:
                Path(self._stderr_path).unlink(missing_ok=True)
