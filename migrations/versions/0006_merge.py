"""Merge the foundation's line with the users (0101) and files (0301) branches.

Revision ID: 0006
Revises: 0005, 0101, 0301
Create Date: 2026-11-24
"""

revision = "0006"
down_revision = ("0005", "0101", "0301")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
