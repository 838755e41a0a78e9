"""Custom role names are free text, unique per tenant whatever their case.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25

Names were lower-case identifiers only; a role called "Editor" or "Support agent" was a
400. Now any name without control characters is taken, and this index keeps "Admin" from
sitting beside "admin" (or a custom "Owner" beside the built-in). Every existing name is
lower case already, so the index cannot fail to build. The exact-name constraint stays:
lookups by name use it.
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE UNIQUE INDEX roles_tenant_lower_name ON roles (tenant_id, lower(name))")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS roles_tenant_lower_name")
