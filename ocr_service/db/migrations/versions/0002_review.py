"""review workflow, export profiles and replacement mappings (issue 5)

Revision ID: 0002
Revises: 0001

Adds who/when columns for confirmation and export, the per-field reviewer, the blind
second entries of double entry (読み合わせ) and the per-organisation character mapping
table used by the CSV export. Column changes go through batch_alter_table so the
embedded SQLite database migrates too.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "char_mappings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("replacement", sa.String(length=32), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_char_mappings_created_by_users")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_char_mappings_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_char_mappings")),
        sa.UniqueConstraint("org_id", "source", name="uq_char_mappings_org_source"),
    )
    with op.batch_alter_table("char_mappings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_char_mappings_org_id"), ["org_id"], unique=False)

    op.create_table(
        "blind_entries",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("field_result_id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("first_value", sa.Text(), nullable=False),
        sa.Column("matched", sa.Boolean(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_blind_entries_document_id_documents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["field_result_id"],
            ["field_results.id"],
            name=op.f("fk_blind_entries_field_result_id_field_results"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_blind_entries_org_id_organisations")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_blind_entries_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_entries")),
        sa.UniqueConstraint("field_result_id", name="uq_blind_entries_field_result"),
    )
    with op.batch_alter_table("blind_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_blind_entries_document_id"), ["document_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_blind_entries_org_id"), ["org_id"], unique=False)

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirmed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_documents_confirmed_by_users"), "users", ["confirmed_by"], ["id"]
        )

    with op.batch_alter_table("field_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reviewed_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_field_results_reviewed_by_users"), "users", ["reviewed_by"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("field_results", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_field_results_reviewed_by_users"), type_="foreignkey")
        batch_op.drop_column("reviewed_at")
        batch_op.drop_column("reviewed_by")

    with op.batch_alter_table("documents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_documents_confirmed_by_users"), type_="foreignkey")
        batch_op.drop_column("exported_at")
        batch_op.drop_column("confirmed_at")
        batch_op.drop_column("confirmed_by")

    with op.batch_alter_table("blind_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_blind_entries_org_id"))
        batch_op.drop_index(batch_op.f("ix_blind_entries_document_id"))
    op.drop_table("blind_entries")

    with op.batch_alter_table("char_mappings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_char_mappings_org_id"))
    op.drop_table("char_mappings")
