"""What a member can do in the Mini App once initData is verified: RSVP, follow, "My events"."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiogram.utils.i18n import gettext as _
import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.portal import i18n as pi18n
from bot.services import events as ev
from bot.services import notices
from db.models import Event, EventStatus, Member, NoticeKind, Organisation, Rsvp, RsvpStatus

if TYPE_CHECKING:
    from bot.portal.routes import Portal

log = logging.getLogger(__name__)


Result = tuple[int, str, dict[str, Any]]  # HTTP status, the message in the member's language, extra fields
MY_EVENTS_LIMIT = 50


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value < 2**31:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    return None


async def my_events(portal: Portal, session: AsyncSession, member: Member, body: dict[str, Any], now: datetime,
                    locale: str, request: web.Request) -> Result:
    """The member's upcoming events (going, maybe, waiting), in their language and zone."""
    rows = (await session.execute(
        select(Event, Organisation, Rsvp).join(Rsvp, Rsvp.event_id == Event.id)
        .join(Organisation, Organisation.id == Event.organisation_id)
        .where(Rsvp.member_id == member.id, Rsvp.status.in_((RsvpStatus.GOING.value, RsvpStatus.MAYBE.value)),
               Event.status.in_((EventStatus.APPROVED.value, EventStatus.CANCELLED.value)),
               Event.starts_at >= now - timedelta(hours=6))
        .order_by(Event.starts_at, Event.id).limit(MY_EVENTS_LIMIT)
    )).all()
    zone = member.timezone
    items = [{"event": event, "org": org, "rsvp": rsvp} for event, org, rsvp in rows]
    env = request.config_dict.get(aiohttp_jinja2.APP_KEY) or portal.env
    html = env.get_template("_my_events.html").render(
        items=items, lang=locale, zone=zone, u=lambda path="/": f"/{locale}{path}",
        when=lambda moment, tz, fmt="medium": pi18n.when(moment, locale, tz, fmt),
        cancelled=EventStatus.CANCELLED.value, going=RsvpStatus.GOING.value)
    return 200, "", {"html": html, "count": len(items)}


async def rsvp(portal: Portal, session: AsyncSession, member: Member, body: dict[str, Any], now: datetime,
               locale: str, request: web.Request) -> Result:
    event_id = _int(body.get("event_id"))
    status = body.get("status")
    if event_id is None or status not in {s.value for s in RsvpStatus}:
        return 400, _("This request is not valid."), {}
    try:
        result = await ev.set_rsvp(session, member, event_id, str(status), None, now)
    except ev.EventNotFound:
        return 404, _("This event is no longer open for answers."), {}
    except ev.NotAllowed:
        return 403, _("Please register in the bot first: send /start."), {}
    except ev.InvalidEventField:
        return 400, _("This request is not valid."), {}
    if result.rsvp.status == RsvpStatus.GOING.value and result.rsvp.waitlisted:
        message = _("The event is full: you are on the waiting list.")
    elif result.rsvp.status == RsvpStatus.GOING.value:
        message = _("You are going. See you there!")
    elif result.rsvp.status == RsvpStatus.MAYBE.value:
        message = _("Saved: you might come.")
    else:
        message = _("Saved: you are not going.")
    if result.promoted:  # whoever moved up hears it from the bot, through the worker's queue (this commit)
        await notices.queue_about(session, NoticeKind.WAITLIST_PROMOTED, result.event, result.promoted, now)
    return 200, message, {"answer": result.rsvp.status, "waitlisted": result.rsvp.waitlisted}


async def follow(portal: Portal, session: AsyncSession, member: Member, body: dict[str, Any], now: datetime,
                 locale: str, request: web.Request) -> Result:
    organisation_id = _int(body.get("organisation_id"))
    event_id = _int(body.get("event_id"))  # follow the city an event is in
    undo = body.get("undo") is True
    city_id = None
    if organisation_id is None and event_id is not None:
        found = await portal.data.event(event_id)
        city_id = ev.event_city_id(found[0]) if found else None
        if city_id is None:
            return 404, _("Page not found"), {}
    if organisation_id is not None:
        org = await session.get(Organisation, organisation_id)
        if org is None or not org.is_active:
            return 404, _("Page not found"), {}
    elif city_id is None:
        return 400, _("This request is not valid."), {}
    target = {"organisation_id": organisation_id} if organisation_id is not None else {"city_id": city_id}
    if undo:
        await ev.unfollow(session, member, **target)  # type: ignore[arg-type]
        return 200, _("You no longer follow it."), {"following": False}
    try:
        await ev.follow(session, member, **target)  # type: ignore[arg-type]
    except LookupError:
        return 404, _("Page not found"), {}
    return 200, _("Followed: you will hear of new events here in the bot."), {"following": True}


ACTIONS: dict[str, Callable[..., Awaitable[Result]]] = {"my-events": my_events, "rsvp": rsvp, "follow": follow}


