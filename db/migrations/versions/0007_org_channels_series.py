"""organisations' channels and groups, attendee messages, event series

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_type", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("is_forum", sa.Boolean(), nullable=False),
        sa.Column("thread_id", sa.BigInteger(), nullable=True),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["added_by"], ["members.id"], name=op.f("fk_chat_links_added_by_members"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["confirmed_by"], ["members.id"], name=op.f("fk_chat_links_confirmed_by_members"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], name=op.f("fk_chat_links_organisation_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_links")),
        sa.UniqueConstraint("chat_id", name=op.f("uq_chat_links_chat_id")),
    )
    with op.batch_alter_table("chat_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_links_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "chat_posts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_chat_posts_event_id_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["link_id"], ["chat_links.id"], name=op.f("fk_chat_posts_link_id_chat_links"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_posts")),
        sa.UniqueConstraint("link_id", "event_id", name="uq_chat_posts_link_event"),
    )
    with op.batch_alter_table("chat_posts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_posts_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chat_posts_link_id"), ["link_id"], unique=False)

    op.create_table(
        "attendee_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.Column("sent_by", sa.Integer(), nullable=True),
        sa.Column("statuses", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["announcement_id"], ["announcements.id"], name=op.f("fk_attendee_messages_announcement_id_announcements"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_attendee_messages_event_id_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["sent_by"], ["members.id"], name=op.f("fk_attendee_messages_sent_by_members"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendee_messages")),
    )
    with op.batch_alter_table("attendee_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendee_messages_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendee_messages_event_id"), ["event_id"], unique=False)

    op.create_table(
        "event_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("rrule", sa.String(length=300), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("first_start_local", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["members.id"], name=op.f("fk_event_series_created_by_members"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisations.id"], name=op.f("fk_event_series_organisation_id_organisations"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_series")),
    )
    with op.batch_alter_table("event_series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_series_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "series_occurrences",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("series_id", sa.Integer(), nullable=False),
        sa.Column("original_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detached", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_series_occurrences_event_id_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["series_id"], ["event_series.id"], name=op.f("fk_series_occurrences_series_id_event_series"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_series_occurrences")),
    )
    with op.batch_alter_table("series_occurrences", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_occurrences_series_id"), ["series_id"], unique=False)


def downgrade() -> None:
    op.drop_table("series_occurrences")
    op.drop_table("event_series")
    op.drop_table("attendee_messages")
    op.drop_table("chat_posts")
    op.drop_table("chat_links")
