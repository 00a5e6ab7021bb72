"""scanner bridge: idempotent upload receipts and bridge heartbeats (issue 14)

Revision ID: 0008
Revises: 0010

``upload_receipts`` maps (organisation, SHA-256 of the uploaded file) to the document it
made, so a repeated upload within the retention period returns the first document; the
unique key settles two uploads of the same file racing. ``bridges`` keeps the last
heartbeat of every scanner bridge for the administrators' list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upload_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_upload_receipts_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_upload_receipts_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_receipts")),
        sa.UniqueConstraint("org_id", "sha256", name="uq_upload_receipts_org_sha256"),
    )
    with op.batch_alter_table("upload_receipts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_upload_receipts_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_upload_receipts_document_id"), ["document_id"], unique=False)

    op.create_table(
        "bridges",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("hostname", sa.String(length=255), nullable=False),
        sa.Column("hot_folders", sa.JSON(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("quarantined", sa.Integer(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_bridges_user_id_users")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_bridges_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bridges")),
        sa.UniqueConstraint("org_id", "name", name="uq_bridges_org_name"),
    )
    with op.batch_alter_table("bridges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bridges_org_id"), ["org_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bridges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bridges_org_id"))
    op.drop_table("bridges")
    with op.batch_alter_table("upload_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_upload_receipts_document_id"))
        batch_op.drop_index(batch_op.f("ix_upload_receipts_org_id"))
    op.drop_table("upload_receipts")
