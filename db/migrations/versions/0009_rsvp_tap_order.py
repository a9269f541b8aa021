"""rsvp tap order: an answer's place in the event's line, and whether its tap still waits for an answer

rsvps gains `position` (the Telegram update id of the Going tap, or one past the last position for
an answer from the Mini App) and `queued_at` (set while the tap waits for its turn). Rows from
before keep no position: they came first and keep their order among themselves (by id).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("position", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rsvps", schema=None) as batch_op:
        batch_op.drop_column("queued_at")
        batch_op.drop_column("position")
