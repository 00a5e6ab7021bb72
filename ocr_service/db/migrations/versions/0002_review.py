"""review workflow, export profiles and replacement mappings (issue 5)

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reserved so that parallel work on the issues gets a linear migration chain.
    pass


def downgrade() -> None:
    pass
