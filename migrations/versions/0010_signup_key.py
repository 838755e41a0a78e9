"""Sign-up applies once per message id: the tenant remembers which sign-up created it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25

``signup_key`` is SHA-256 of the creating message's id with the slug, the owner's
e-mail and the tenant name (never the password). A sign-up delivered again with the same
message id and the same request (a redelivery after a crash, an HTTP retry with the same
``Idempotency-Key``) finds the tenant it created instead of a taken slug, and gets a
session of its own once the password checks out (workers/auth/service.py).
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE tenants ADD COLUMN signup_key bytea")


def downgrade() -> None:
    op.execute("ALTER TABLE tenants DROP COLUMN IF EXISTS signup_key")
