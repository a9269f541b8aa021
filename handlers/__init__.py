"""aiogram routers, one module per user flow; the fallback router goes last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    """Every router, in the order updates should try them.

    Routers are module-level, and aiogram lets a router belong to one dispatcher; a
    process that builds a new dispatcher (tests, a restarted demo) takes them over.
    """
    from handlers import (
        announce, atlas, common, directory, event_list, events, fallback, freshness, language, membership, privacy, profile, registration, roles,
    )
    from handlers import attendee_messages, inline, org_channels, series, verification

    routers = [
        org_channels.router, org_channels.representatives, membership.router, registration.router, common.router, event_list.router, profile.router,
        privacy.router, language.router, roles.router, verification.router, inline.router, attendee_messages.router,
        series.router, *events.routers, directory.router, freshness.router, announce.router, atlas.router, atlas.secretariat, fallback.router,
    ]
    for router in routers:
        router._parent_router = None
    return routers
