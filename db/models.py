"""The schema: members, roles, organisations, events, announcements and their deliveries."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from db.types import UTCDateTime, utcnow

# Named constraints keep Alembic migrations identical on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[str]: JSON}


class RoleName(str, enum.Enum):
    SECRETARIAT = "secretariat"
    ORG_REP = "org_rep"


class EventStatus(str, enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class AnnouncementStatus(str, enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    CANCELLED = "cancelled"


class DeliveryStatus(str, enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


class Member(Base):
    """A person who talks to the bot. Personal data lives here and is erased by /delete."""

    __tablename__ = "members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    display_name: Mapped[str | None] = mapped_column(String(64))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_at: Mapped[datetime | None]
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consent_at: Mapped[datetime | None]
    # Where they live: a gazetteer city and coordinates coarsened to ~1 km.
    city_id: Mapped[int | None] = mapped_column(Integer)
    city_name: Mapped[str | None] = mapped_column(String(120))
    country_code: Mapped[str | None] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    timezone: Mapped[str | None] = mapped_column(String(64))
    origin_country: Mapped[str | None] = mapped_column(String(2))
    # Origin and spoken languages are special-category data (GDPR art. 9): kept only after a
    # separate, explicit consent; None means the member did not give it ("prefer not to say").
    sensitive_consent_at: Mapped[datetime | None]
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    interests: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_announcements: Mapped[bool] = mapped_column(Boolean, default=True)
    notify_events: Mapped[bool] = mapped_column(Boolean, default=True)
    radius_km: Mapped[int] = mapped_column(Integer, default=25)
    # None: no quiet hours. Registration proposes 22:00–08:00 (no column default: it would
    # replace an explicit None on insert).
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    notify_reminders: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    digest_weekly: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    last_digest_on: Mapped[date | None] = mapped_column(Date)  # member-local Monday of the last digest
    # Secret of the member's personal calendar feed (/ical/<token>.ics); None when revoked.
    ical_token: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    roles: Mapped[list[Role]] = relationship(back_populates="member", cascade="all, delete-orphan", foreign_keys="Role.member_id")


class Role(Base):
    """A privilege held by a member: the secretariat, or representing one organisation."""

    __tablename__ = "roles"
    __table_args__ = (UniqueConstraint("member_id", "role", "organisation_id", name="uq_roles_member_role_org"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    granted_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship(back_populates="roles", foreign_keys=[member_id])


class Organisation(Base):
    """An association, cultural centre, school, chamber… serving a Turkic-speaking community."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    name_translations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    category: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(Text)
    country_code: Mapped[str | None] = mapped_column(String(2))
    city: Mapped[str | None] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Spatial key (see db/spatial.py): nearby search looks up a few cells through a B-tree.
    geo_cell: Mapped[int | None] = mapped_column(BigInteger, index=True)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(300))
    telegram: Mapped[str | None] = mapped_column(String(100))
    verified: Mapped[bool] = mapped_column(Boolean, default=False)
    trusted: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    last_confirmed_at: Mapped[datetime | None]
    # Freshness: how many confirmation requests went unanswered, and when the last was sent.
    confirm_asks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_asked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """Something an organisation holds at a place and time; shown once the secretariat approves it."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_status_starts_at", "status", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    timezone: Mapped[str] = mapped_column(String(64))
    venue: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    country_code: Mapped[str | None] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    geo_cell: Mapped[int | None] = mapped_column(BigInteger, index=True)
    languages: Mapped[list[str]] = mapped_column(JSON, default=list)
    category: Mapped[str | None] = mapped_column(String(32))
    capacity: Mapped[int | None] = mapped_column(Integer)
    link: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING.value)
    reject_reason: Mapped[str | None] = mapped_column(String(500))
    is_sample: Mapped[bool] = mapped_column(Boolean, default=False)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None]
    # When its audience was queued for the "new event" news (jobs/event_news.py); None: not yet.
    news_sent_at: Mapped[datetime | None]


class RsvpStatus(str, enum.Enum):
    GOING = "going"
    MAYBE = "maybe"
    NOT_GOING = "not_going"


class Rsvp(Base):
    """A member's answer to an event; `waitlisted` while the event is full, or while their Going
    waits for its turn. `position` is their place in the event's line, in tap order: the Telegram
    update of the Going tap (update ids increase in the order Telegram received the taps), or,
    for an answer from the Mini App, one past the last position taken. `queued_at` is set while a
    tap waits for its answer (bot/services/events.py: `admit`), and cleared once the member is told."""

    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("event_id", "member_id", name="uq_rsvps_event_member"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    guests: Mapped[int] = mapped_column(Integer, default=0)
    waitlisted: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_24h: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_1h: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int | None] = mapped_column(BigInteger)
    queued_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Follow(Base):
    """A member follows a city (gazetteer id) or an organisation, to hear of new events."""

    __tablename__ = "follows"
    __table_args__ = (UniqueConstraint("member_id", "city_id", "organisation_id", name="uq_follows_member_target"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    city_id: Mapped[int | None] = mapped_column(Integer, index=True)
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Announcement(Base):
    """A broadcast by the secretariat: texts per locale, an audience, and when to send."""

    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    texts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    audience: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=AnnouncementStatus.DRAFT.value)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    send_at: Mapped[datetime | None]
    recurrence: Mapped[str | None] = mapped_column(String(32))
    photo_file_id: Mapped[str | None] = mapped_column(String(300))
    link_url: Mapped[str | None] = mapped_column(String(300))
    link_text: Mapped[str | None] = mapped_column(String(64))
    # Totals kept when deliveries are erased with their members (/delete).
    sent_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    blocked_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    failed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class Delivery(Base):
    """One announcement to one member: the unit the delivery engine sends exactly once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("announcement_id", "member_id", name="uq_deliveries_announcement_member"),
        Index("ix_deliveries_status_not_before", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    sent_at: Mapped[datetime | None]
    message_id: Mapped[int | None] = mapped_column(BigInteger)


class AuditEntry(Base):
    """Who did what and when; never personal data beyond an internal member id."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FsmRecord(Base):
    """A conversation's FSM state and data, so a restart resumes the same step."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

class AtlasRelease(Base):
    """One differentially private release of the Diaspora Atlas: what every Atlas output shows."""

    __tablename__ = "atlas_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    epsilon: Mapped[float] = mapped_column(Float)
    mechanism: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(16))  # schedule, secretariat, cli
    # The public open-data document (schema kardes-atlas/2) and the secretariat's breakdowns.
    public: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    breakdowns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AtlasLedger(Base):
    """The privacy-budget ledger: one line per release, numbered without gaps (two at once collide)."""

    __tablename__ = "atlas_ledger"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, unique=True)
    release_id: Mapped[int] = mapped_column(ForeignKey("atlas_releases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    epsilon: Mapped[float] = mapped_column(Float)  # the release's total: the sum of epsilon_by_table
    epsilon_by_table: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    spent_after: Mapped[float] = mapped_column(Float)  # lifetime total including this release
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))


class NoticeKind(str, enum.Enum):
    EVENT_NEWS = "event_news"
    EVENT_CANCELLED = "event_cancelled"
    WAITLIST_PROMOTED = "waitlist_promoted"
    EVENT_REMINDER = "event_reminder"  # 24 h and 1 h before an event the member answered
    DIGEST = "digest"  # the weekly digest
    FRESHNESS_ASK = "freshness_ask"  # "is the entry still correct?" to a representative
    ORG_HIDDEN = "org_hidden"  # to the secretariat: entries hidden for want of a confirmation
    CHAT_LINK = "chat_link"  # to representatives: their channel's link was paused or removed
    DIRECT = "direct"  # one message about someone's action: moderation, decisions, roles


class Notice(Base):
    """One message to one member (or a chat we know only by its id, such as a SECRETARIAT_IDS entry)
    outside a reply: queued in the transaction that caused it, sent by the one sender (bot/notify.py)
    through the rate gate, once. Event notices are rendered when sent; the others carry their text,
    rendered in the recipient's language when queued (`payload`, dropped once the notice is done).
    `subject` makes a notice unique per kind and chat (an event, a week, a day's round); `claim`
    marks the rows a sender has taken, so two senders never send the same row."""

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("kind", "chat_id", "subject", name="uq_notices_kind_chat_subject"),
        Index("ix_notices_status_not_before", "status", "not_before"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    subject: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None]
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

# --- organisations' own channels, attendee messages and series (issue 15) -------------------

class ChatLinkStatus(str, enum.Enum):
    PENDING = "pending"  # the bot was made administrator; the representative has not confirmed yet
    ACTIVE = "active"
    PAUSED = "paused"  # the bot lost its rights (demoted, removed, 403): nothing is posted
    REMOVED = "removed"  # unlinked by the representative or the secretariat, or the role was lost


class ChatLink(Base):
    """A Telegram channel or group where an organisation's approved events are posted."""

    __tablename__ = "chat_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str | None] = mapped_column(String(255))
    is_forum: Mapped[bool] = mapped_column(Boolean, default=False)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)  # a forum topic chosen by the representative
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    locale: Mapped[str | None] = mapped_column(String(8))  # the language of the posted cards
    status: Mapped[str] = mapped_column(String(16), default=ChatLinkStatus.PENDING.value)
    paused_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChatPost(Base):
    """One event's card in one linked chat: what was posted, so an edit updates that message."""

    __tablename__ = "chat_posts"
    __table_args__ = (UniqueConstraint("link_id", "event_id", name="uq_chat_posts_link_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("chat_links.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    content_hash: Mapped[str | None] = mapped_column(String(64))  # of the text and buttons last sent
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
    not_before: Mapped[datetime | None]
    posted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime | None]


class AttendeeMessage(Base):
    """A representative's message to the people who answered one event (the log and the daily cap)."""

    __tablename__ = "attendee_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="SET NULL"))
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    statuses: Mapped[list[str]] = mapped_column(JSON, default=list)  # going, maybe, waitlisted
    recipients: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class EventSeries(Base):
    """A recurring event: the rule (RFC 5545 RRULE in the venue's zone) its occurrences were made from."""

    __tablename__ = "event_series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"), index=True)
    rrule: Mapped[str] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64))
    first_start_local: Mapped[str] = mapped_column(String(16))  # ISO wall-clock time of the first occurrence
    created_by: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SeriesOccurrence(Base):
    """An event that is one occurrence of a series (its own RSVP, capacity, waitlist and reminders)."""

    __tablename__ = "series_occurrences"

    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    series_id: Mapped[int] = mapped_column(ForeignKey("event_series.id", ondelete="CASCADE"), index=True)
    original_start: Mapped[datetime]  # the rule's instant, kept when one occurrence is moved (RECURRENCE-ID)
    detached: Mapped[bool] = mapped_column(Boolean, default=False)  # edited on its own
