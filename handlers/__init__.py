"""aiogram routers, one module per user flow; the fallback router goes last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    """Every router, in the order updates should try them."""
    from handlers import common, fallback, language

    return [common.router, language.router, fallback.router]
