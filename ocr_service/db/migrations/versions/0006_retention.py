"""retention: tombstones, deletion certificates, per-organisation retention period (issue 11)

Recognised text is stored sealed from this revision on (same columns, ciphertext); data keys
live outside the database (OCR_KEY_DIR). Documents from before this revision are converted here
(ocr_service/keys/legacy.py: a data key each, blobs re-encrypted, values sealed).

Revision ID: 0006
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
    # Display names are sealed now (a file name can name a person); ciphertext outgrows 255.
    # Not on SQLite: it ignores VARCHAR lengths, and batch mode would copy and drop ``documents``,
    # whose ON DELETE CASCADE would empty pages and field_results.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("documents", "original_filename", type_=sa.Text(), existing_nullable=False)
    op.create_table(
        "document_tombstones",
        sa.Column("document_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("form_code", sa.String(length=64), nullable=False),
        sa.Column("form_version", sa.Integer(), nullable=True),
        sa.Column("page_count", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exported_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("certificate_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_document_tombstones_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_document_tombstones")),
    )
    op.create_index(op.f("ix_document_tombstones_org_id"), "document_tombstones", ["org_id"])
    op.create_index(op.f("ix_document_tombstones_certificate_id"), "document_tombstones", ["certificate_id"])
    op.create_table(
        "deletion_certificates",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("document_count", sa.Integer(), nullable=False),
        sa.Column("document_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_deletion_certificates_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deletion_certificates")),
    )
    op.create_index(op.f("ix_deletion_certificates_org_id"), "deletion_certificates", ["org_id"])
    from ocr_service.config import get_settings
    from ocr_service.keys.legacy import migrate_legacy_data

    migrate_legacy_data(op.get_bind(), get_settings())


def downgrade() -> None:
    op.drop_index(op.f("ix_deletion_certificates_org_id"), table_name="deletion_certificates")
    op.drop_table("deletion_certificates")
    op.drop_index(op.f("ix_document_tombstones_certificate_id"), table_name="document_tombstones")
    op.drop_index(op.f("ix_document_tombstones_org_id"), table_name="document_tombstones")
    op.drop_table("document_tombstones")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "documents", "original_filename", type_=sa.String(length=255), existing_nullable=False
        )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("retention_days")
