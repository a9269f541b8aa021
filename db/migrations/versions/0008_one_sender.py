"""one sender: the notices queue carries every message to members outside a reply

notices gains the recipient's chat id (a SECRETARIAT_IDS entry may have no member row), a subject
(unique per kind and chat: an event, a week, a day's round), an optional organisation, the text
rendered when queued (payload) and a sender's claim; event and member become optional.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("chat_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("subject", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("claim", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
    # The notices so far were about events, one per kind, event and member.
    op.execute("UPDATE notices SET chat_id = (SELECT members.telegram_id FROM members WHERE members.id = notices.member_id), "
               "subject = 'event:' || CAST(event_id AS VARCHAR(20))")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.alter_column("chat_id", existing_type=sa.BigInteger(), nullable=False)
        batch_op.alter_column("event_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("member_id", existing_type=sa.Integer(), nullable=True)
        batch_op.drop_constraint("uq_notices_kind_event_member", type_="unique")
        batch_op.create_unique_constraint("uq_notices_kind_chat_subject", ["kind", "chat_id", "subject"])
        batch_op.create_foreign_key(batch_op.f("fk_notices_organisation_id_organisations"), "organisations",
                                    ["organisation_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    op.execute("DELETE FROM notices WHERE event_id IS NULL OR member_id IS NULL")
    with op.batch_alter_table("notices", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_notices_organisation_id_organisations"), type_="foreignkey")
        batch_op.drop_constraint("uq_notices_kind_chat_subject", type_="unique")
        batch_op.create_unique_constraint("uq_notices_kind_event_member", ["kind", "event_id", "member_id"])
        batch_op.alter_column("member_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("event_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("claim")
        batch_op.drop_column("payload")
        batch_op.drop_column("organisation_id")
        batch_op.drop_column("subject")
        batch_op.drop_column("chat_id")
