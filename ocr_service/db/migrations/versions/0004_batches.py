"""scanner batches, 様式不明 documents, aligned page images, soft claims, past exports (issue 10)

Revision ID: 0004
Revises: 0005

An upload is a batch; ingest splits it into one document per filled-in form (or per
unidentified page), each pointing back to the batch with its page range. Pages keep
the aligned image the pipeline read. Documents carry the reviewer's soft claim and
the note of a person's decision on a 様式不明 document. Exports are kept to be
downloaded again. Existing documents become one batch each, so every row keeps a batch.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("form_id", sa.String(length=32), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"], name=op.f("fk_batches_uploaded_by_users")),
        sa.ForeignKeyConstraint(
            ["form_id"], ["form_definitions.id"], name=op.f("fk_batches_form_id_form_definitions")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_batches_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_batches_org_id"), ["org_id"], unique=False)

    op.create_table(
        "exports",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("form_code", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("media_type", sa.String(length=80), nullable=False),
        sa.Column("blob_key", sa.String(length=80), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_exports_created_by_users")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_exports_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    with op.batch_alter_table("exports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exports_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_exports_form_code"), ["form_code"], unique=False)

    columns: list[sa.Column[Any]] = [
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("page_from", sa.Integer(), nullable=True),
        sa.Column("page_to", sa.Integer(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.Integer(), nullable=True),
        sa.Column("claim_expires_at", sa.DateTime(timezone=True), nullable=True),
    ]
    if op.get_bind().dialect.name == "sqlite":
        # Plain ALTER TABLE ADD COLUMN: batch mode would rebuild `documents`, and dropping the old
        # table cascades (ON DELETE CASCADE) into pages and field results of an existing install.
        # The foreign keys go inline (REFERENCES in ADD COLUMN): SQLite cannot ALTER a constraint in.
        inline_fks = {
            "batch_id": "CONSTRAINT fk_documents_batch_id_batches REFERENCES batches (id)",
            "claimed_by": "CONSTRAINT fk_documents_claimed_by_users REFERENCES users (id)",
        }
        for column in columns:
            if column.name in inline_fks:
                kind = column.type.compile(dialect=op.get_bind().dialect)
                op.execute(f"ALTER TABLE documents ADD COLUMN {column.name} {kind} {inline_fks[column.name]}")
            else:
                op.add_column("documents", column)
        op.add_column("pages", sa.Column("aligned_blob_key", sa.String(length=80), nullable=True))
        op.create_index(op.f("ix_documents_batch_id"), "documents", ["batch_id"], unique=False)
    else:
        with op.batch_alter_table("documents", schema=None) as batch_op:
            for column in columns:
                batch_op.add_column(column)
            batch_op.create_foreign_key(
                batch_op.f("fk_documents_batch_id_batches"), "batches", ["batch_id"], ["id"]
            )
            batch_op.create_foreign_key(
                batch_op.f("fk_documents_claimed_by_users"), "users", ["claimed_by"], ["id"]
            )
            batch_op.create_index(batch_op.f("ix_documents_batch_id"), ["batch_id"], unique=False)
        with op.batch_alter_table("pages", schema=None) as batch_op:
            batch_op.add_column(sa.Column("aligned_blob_key", sa.String(length=80), nullable=True))

    # Documents uploaded before batches existed: each is its own batch, all its pages.
    op.execute(
        "INSERT INTO batches (id, uploaded_by, sha256, size_bytes, page_count, form_id, org_id, created_at)"
        " SELECT id, uploaded_by, sha256, size_bytes, page_count, form_id, org_id, created_at FROM documents"
    )
    op.execute("UPDATE documents SET batch_id = id, page_from = 1, page_to = page_count")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(op.f("ix_documents_batch_id"), table_name="documents")
        for column in (
            "claim_expires_at",
            "claimed_by",
            "resolution_note",
            "page_to",
            "page_from",
            "batch_id",
        ):
            op.drop_column("documents", column)
        op.drop_column("pages", "aligned_blob_key")
    else:
        with op.batch_alter_table("pages", schema=None) as batch_op:
            batch_op.drop_column("aligned_blob_key")
        with op.batch_alter_table("documents", schema=None) as batch_op:
            batch_op.drop_index(batch_op.f("ix_documents_batch_id"))
            batch_op.drop_constraint(batch_op.f("fk_documents_claimed_by_users"), type_="foreignkey")
            batch_op.drop_constraint(batch_op.f("fk_documents_batch_id_batches"), type_="foreignkey")
            for column in (
                "claim_expires_at",
                "claimed_by",
                "resolution_note",
                "page_to",
                "page_from",
                "batch_id",
            ):
                batch_op.drop_column(column)
    op.drop_table("exports")
    op.drop_table("batches")
