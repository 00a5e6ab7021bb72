"""accounts the privacy council approves (issue 12)

Password history, lockout counters, TOTP, session stages and idle time, token expiry,
per-organisation policy, the per-form ``personal_data`` flag and per-address login failures.
Existing accounts keep working: they are not forced to change their password by this migration.

Revision ID: 0005
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0007"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMNs with constant defaults, not batch mode: on SQLite a batch "move and copy"
    # of users would have to drop a table that documents still reference (foreign keys are on).
    op.add_column(
        "users", sa.Column("must_change_password", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("users", sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("locked_until", _TS, nullable=True))
    op.add_column("users", sa.Column("totp_secret", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("totp_pending", sa.String(length=255), nullable=True))
    op.add_column("users", sa.Column("totp_last_step", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("users", sa.Column("recovery_codes", sa.JSON(), nullable=False, server_default="[]"))
    # Sessions open during the upgrade count as long idle: everyone signs in once more.
    op.add_column(
        "login_sessions", sa.Column("last_seen_at", _TS, nullable=False, server_default="1970-01-01 00:00:00")
    )
    op.add_column(
        "login_sessions", sa.Column("stage", sa.String(length=20), nullable=False, server_default="full")
    )
    op.add_column("api_tokens", sa.Column("expires_at", _TS, nullable=True))
    op.add_column("organisations", sa.Column("policy", sa.JSON(), nullable=False, server_default="{}"))
    op.add_column(
        "form_definitions",
        sa.Column("personal_data", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_password_history_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_history")),
    )
    op.create_index(op.f("ix_password_history_user_id"), "password_history", ["user_id"], unique=False)
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_client_ip"), "login_failures", ["client_ip"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_client_ip"), table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index(op.f("ix_password_history_user_id"), table_name="password_history")
    op.drop_table("password_history")
    with op.batch_alter_table("form_definitions", schema=None) as batch_op:
        batch_op.drop_column("personal_data")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("policy")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("login_sessions", schema=None) as batch_op:
        batch_op.drop_column("stage")
        batch_op.drop_column("last_seen_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        for column in (
            "recovery_codes",
            "totp_last_step",
            "totp_pending",
            "totp_secret",
            "locked_until",
            "failed_logins",
            "must_change_password",
        ):
            batch_op.drop_column(column)
