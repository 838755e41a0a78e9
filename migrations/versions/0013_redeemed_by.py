"""A one-time token remembers the message that spent it.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

``used_by`` is SHA-256 of the id of the message that redeemed the token (a password
reset or invitation confirm, an email verification). The same message delivered again
(a redelivery after a crash, an HTTP retry with the same ``Idempotency-Key``) finds its
token spent by itself and gets the same 204, instead of the 400 of a spent token
(SPEC 5). Tokens superseded by a newer one, or spent by another message, keep answering
400.
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE one_time_tokens ADD COLUMN used_by bytea")


def downgrade() -> None:
    op.execute("ALTER TABLE one_time_tokens DROP COLUMN IF EXISTS used_by")
