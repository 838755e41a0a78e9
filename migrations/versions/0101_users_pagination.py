"""Users: an index for keyset pagination in creation order.

Revision ID: 0101
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0101"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX users_tenant_page ON users (tenant_id, created_at, id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS users_tenant_page")
