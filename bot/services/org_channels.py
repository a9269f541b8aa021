"""Organisations' own channels and groups: linking (confirmed in private by a representative),
pausing when the bot loses its rights, and which event cards each linked chat should show.

Posting itself is the job of jobs/org_channels.py (through the delivery engine's rate gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.notices import MAX_ATTEMPTS, next_try
from bot.services.roles import is_secretariat, represents
from db.models import ChatLink, ChatLinkStatus, ChatPost, Event, EventStatus, Member, Organisation, Role, RoleName
from db.repositories import Repo

POSTS_PER_TICK = 200  # cards planned per run, at most: the rest wait for the next run


class LinkRefused(PermissionError):
    """The member may not do this with this link (checked again on every action)."""


@dataclass(frozen=True)
class BotStatusChange:
    """What a change of the bot's rights in a chat means for the organisation behind it."""

    link: ChatLink
    ask: bool  # the bot was made administrator: ask the person who did it to confirm a link
    paused: bool  # an active link lost its rights


def can_post(status: str, chat_type: str, can_post_messages: bool | None) -> bool:
    """Whether the bot can post there: an administrator (in a channel, with the right to post)."""
    if status not in ("administrator", "creator"):
        return False
    return chat_type != "channel" or bool(can_post_messages)


async def bot_status_changed(session: AsyncSession, *, chat_id: int, chat_type: str, title: str | None, is_forum: bool,
                             able: bool, actor: Member | None, reason: str) -> BotStatusChange | None:
    """Record that the bot can (or can no longer) post in a group or channel."""
    link = await session.scalar(select(ChatLink).where(ChatLink.chat_id == chat_id))
    if able:
        if link is None:
            link = ChatLink(chat_id=chat_id, chat_type=chat_type, is_forum=is_forum, status=ChatLinkStatus.PENDING.value)
            session.add(link)
        link.title, link.chat_type, link.is_forum = (title or "")[:255] or None, chat_type, is_forum
        if link.status == ChatLinkStatus.ACTIVE.value:
            await session.flush()
            return BotStatusChange(link, ask=False, paused=False)
        # A new link, or one paused or removed before: whoever gave the rights confirms it again.
        link.status, link.added_by, link.paused_reason = ChatLinkStatus.PENDING.value, actor.id if actor else None, None
        await session.flush()
        return BotStatusChange(link, ask=True, paused=False)
    if link is None:
        return None
    paused = link.status == ChatLinkStatus.ACTIVE.value
    link.status = ChatLinkStatus.PAUSED.value if paused else ChatLinkStatus.REMOVED.value
    link.paused_reason = reason[:300]
    await session.flush()
    if paused:
        await Repo(session).audit.record("chat_link.paused", actor_id=actor.id if actor else None, link_id=link.id,
                                         organisation_id=link.organisation_id, reason=reason[:300])
    return BotStatusChange(link, ask=False, paused=paused)


async def pause(session: AsyncSession, link_id: int, reason: str) -> ChatLink | None:
    """Pause an active link (a 403 on sending); returns it when it was active."""
    link = await session.get(ChatLink, link_id)
    if link is None or link.status != ChatLinkStatus.ACTIVE.value:
        return None
    link.status, link.paused_reason = ChatLinkStatus.PAUSED.value, reason[:300]
    await session.flush()
    await Repo(session).audit.record("chat_link.paused", actor_id=None, link_id=link.id,
                                     organisation_id=link.organisation_id, reason=reason[:300])
    return link


async def confirm(session: AsyncSession, member: Member | None, link_id: int, organisation_id: int) -> tuple[ChatLink, Organisation]:
    """The person who gave the bot its rights links the chat to an organisation they represent."""
    link = await session.get(ChatLink, link_id)
    if member is None or link is None or link.status != ChatLinkStatus.PENDING.value or link.added_by != member.id:
        raise LinkRefused()
    if not await represents(session, member, organisation_id):
        raise LinkRefused()
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None or not organisation.is_active:
        raise LinkRefused()
    link.organisation_id, link.confirmed_by, link.status = organisation_id, member.id, ChatLinkStatus.ACTIVE.value
    link.locale = member.locale
    await session.flush()
    await Repo(session).audit.record("chat_link.confirmed", actor_id=member.id, link_id=link.id,
                                     organisation_id=organisation_id, chat_id=link.chat_id)
    return link, organisation


async def decline(session: AsyncSession, member: Member | None, link_id: int) -> None:
    """The person asked does not want the chat linked."""
    link = await session.get(ChatLink, link_id)
    if member is None or link is None or link.status != ChatLinkStatus.PENDING.value or link.added_by != member.id:
        raise LinkRefused()
    link.status = ChatLinkStatus.REMOVED.value
    await session.flush()


async def unlink(session: AsyncSession, member: Member | None, link_id: int, secretariat_ids: frozenset[int]) -> ChatLink:
    """A representative of the organisation, or the secretariat, removes a link; audited."""
    link = await session.get(ChatLink, link_id)
    if link is None or link.status == ChatLinkStatus.REMOVED.value:
        raise LinkRefused()
    allowed = (link.organisation_id is not None and await represents(session, member, link.organisation_id)) \
        or await is_secretariat(session, member, secretariat_ids)
    if not allowed:
        raise LinkRefused()
    link.status = ChatLinkStatus.REMOVED.value
    await session.flush()
    await Repo(session).audit.record("chat_link.removed", actor_id=member.id if member else None, link_id=link.id,
                                     organisation_id=link.organisation_id)
    return link


async def set_topic(session: AsyncSession, member: Member | None, chat_id: int, thread_id: int | None) -> ChatLink:
    """A representative chooses the forum topic where cards go (None: the General topic)."""
    link = await session.scalar(select(ChatLink).where(ChatLink.chat_id == chat_id))
    if link is None or link.status != ChatLinkStatus.ACTIVE.value or link.organisation_id is None:
        raise LinkRefused()
    if not await represents(session, member, link.organisation_id):
        raise LinkRefused()
    link.thread_id = thread_id
    await session.flush()
    return link


@dataclass(frozen=True)
class LinkRow:
    link: ChatLink
    organisation: Organisation | None


async def visible_links(session: AsyncSession, member: Member | None, secretariat_ids: frozenset[int]) -> list[LinkRow]:
    """Links the member may see and remove: all for the secretariat, their organisations' for a representative."""
    query = (select(ChatLink, Organisation).outerjoin(Organisation, Organisation.id == ChatLink.organisation_id)
             .where(ChatLink.status.in_((ChatLinkStatus.ACTIVE.value, ChatLinkStatus.PAUSED.value))))
    if not await is_secretariat(session, member, secretariat_ids):
        if member is None:
            return []
        mine = select(Role.organisation_id).where(Role.member_id == member.id, Role.role == RoleName.ORG_REP.value)
        query = query.where(ChatLink.organisation_id.in_(mine))
    rows = (await session.execute(query.order_by(Organisation.name, ChatLink.id))).all()
    return [LinkRow(link, organisation) for link, organisation in rows]


async def drop_links_without_representative(session: AsyncSession) -> list[ChatLink]:
    """A link lives through the representative who confirmed it: without that role it is removed."""
    active = (await session.scalars(select(ChatLink).where(ChatLink.status.in_(
        (ChatLinkStatus.ACTIVE.value, ChatLinkStatus.PAUSED.value))))).all()
    dropped = []
    for link in active:
        confirmer = await session.get(Member, link.confirmed_by) if link.confirmed_by else None
        if link.organisation_id is None or not await represents(session, confirmer, link.organisation_id):
            link.status, link.paused_reason = ChatLinkStatus.REMOVED.value, "representative role lost"
            await Repo(session).audit.record("chat_link.removed", actor_id=None, link_id=link.id,
                                             organisation_id=link.organisation_id, reason="role lost")
            dropped.append(link)
    await session.flush()
    return dropped


@dataclass(frozen=True)
class PostJob:
    """An event card that a linked chat should show: posted, or edited when it changed."""

    link_id: int
    chat_id: int
    thread_id: int | None
    locale: str | None
    event: Event
    organisation: Organisation
    post_id: int | None
    message_id: int | None
    content_hash: str | None


async def planned_posts(session: AsyncSession, now: datetime, limit: int = POSTS_PER_TICK) -> list[PostJob]:
    """Upcoming approved events of organisations with an active link, and cancelled ones already posted."""
    rows = (await session.execute(
        select(ChatLink, Event, Organisation, ChatPost)
        .join(Event, Event.organisation_id == ChatLink.organisation_id)
        .join(Organisation, Organisation.id == Event.organisation_id)
        .outerjoin(ChatPost, (ChatPost.link_id == ChatLink.id) & (ChatPost.event_id == Event.id))
        .where(ChatLink.status == ChatLinkStatus.ACTIVE.value, Event.starts_at > now,
               (Event.status == EventStatus.APPROVED.value)
               | ((Event.status == EventStatus.CANCELLED.value) & ChatPost.message_id.is_not(None)),
               (ChatPost.not_before.is_(None)) | (ChatPost.not_before <= now))
        .order_by(Event.starts_at, ChatLink.id).limit(limit)
    )).all()
    return [PostJob(link.id, link.chat_id, link.thread_id, link.locale, event, organisation,
                    post.id if post else None, post.message_id if post else None, post.content_hash if post else None)
            for link, event, organisation, post in rows]


async def record_post(session: AsyncSession, job: PostJob, *, message_id: int | None, content_hash: str | None,
                      error: str | None, now: datetime, transient: bool = False) -> None:
    """Remember what a linked chat shows for an event (or why it could not be sent). A transient
    failure (network, server) is tried again later, backing off as every sender does (notices.next_try)
    but never giving up: the card stays due while the event is upcoming."""
    post = await session.get(ChatPost, job.post_id) if job.post_id else None
    if post is None:
        post = await session.scalar(select(ChatPost).where(ChatPost.link_id == job.link_id, ChatPost.event_id == job.event.id))
    if post is None:
        post = ChatPost(link_id=job.link_id, event_id=job.event.id, attempts=0)
        session.add(post)
    post.attempts = (post.attempts or 0) + 1
    post.last_error = error[:300] if error else None
    post.not_before = (next_try(min(post.attempts, MAX_ATTEMPTS - 1), now) if transient else None)
    if error is None:
        if post.message_id is None:
            post.posted_at = now
        post.message_id = message_id or post.message_id
        post.content_hash, post.updated_at, post.attempts = content_hash, now, 0
    await session.flush()
