"""Local imitation of the Telegram Bot API for running and testing the bot offline.

See :mod:`sandbox.server` for the server and its control API,
:mod:`sandbox.client` for the test client and :mod:`sandbox.terminal`
for the terminal chat used by ``kardes demo``.
"""

from sandbox.client import SandboxChat, SandboxClient, SandboxClientError, SandboxUser
from sandbox.server import ApiError, SandboxServer

__all__ = ["ApiError", "SandboxChat", "SandboxClient", "SandboxClientError", "SandboxServer", "SandboxUser"]
