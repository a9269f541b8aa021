"""Local imitation of the Telegram Bot API for running and testing the bot offline.

See :mod:`bot.sandbox.server` for the server and its control API,
:mod:`bot.sandbox.client` for the test client and :mod:`bot.sandbox.terminal`
for the terminal chat used by ``kardes demo``.
"""

from bot.sandbox.client import SandboxChat, SandboxClient, SandboxClientError, SandboxUser
from bot.sandbox.server import ApiError, SandboxServer

__all__ = ["ApiError", "SandboxChat", "SandboxClient", "SandboxClientError", "SandboxServer", "SandboxUser"]
