"""atlas: differentially private releases, their privacy ledger, separate consent to sensitive data

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "atlas_releases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("mechanism", sa.String(length=64), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("public", sa.JSON(), nullable=False),
        sa.Column("breakdowns", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_atlas_releases")),
    )
    with op.batch_alter_table("atlas_releases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_atlas_releases_created_at"), ["created_at"], unique=False)
    op.create_table(
        "atlas_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("epsilon", sa.Float(), nullable=False),
        sa.Column("epsilon_by_table", sa.JSON(), nullable=False),
        sa.Column("spent_after", sa.Float(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["release_id"], ["atlas_releases.id"], name=op.f("fk_atlas_ledger_release_id_atlas_releases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by"], ["members.id"], name=op.f("fk_atlas_ledger_requested_by_members"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_atlas_ledger")),
        sa.UniqueConstraint("sequence", name=op.f("uq_atlas_ledger_sequence")),
    )
    with op.batch_alter_table("atlas_ledger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_atlas_ledger_release_id"), ["release_id"], unique=False)
    # Existing members consented to one notice covering everything; the separate consent to
    # origin and languages is asked from now on (their answers stay until they change them).
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive_consent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("sensitive_consent_at")
    with op.batch_alter_table("atlas_ledger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_atlas_ledger_release_id"))
    op.drop_table("atlas_ledger")
    with op.batch_alter_table("atlas_releases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_atlas_releases_created_at"))
    op.drop_table("atlas_releases")
