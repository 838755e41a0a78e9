"""A login (or sign-up) applies once per message id: the session remembers what opened it.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

``opened_by`` is SHA-256 of the user's id with the id of the message that opened the
session; ``token_seed`` the 32 random bytes its first pair's ``jti`` values were taken
from. The same login delivered again (a redelivery after a crash, an HTTP retry with the
same ``Idempotency-Key``) finds its session by ``opened_by`` and, once the password
checks out again, signs the same pair from the seed (workers/auth/service.py) instead of
opening a second session. Neither column is a token: signing needs the JWT secrets. The
unique index makes two deliveries racing each other open one session between them.
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE sessions ADD COLUMN opened_by bytea, ADD COLUMN token_seed bytea")
    op.execute(
        "CREATE UNIQUE INDEX sessions_opened_by ON sessions (tenant_id, user_id, opened_by)"
        " WHERE opened_by IS NOT NULL"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS sessions_opened_by")
    op.execute(
        "ALTER TABLE sessions DROP COLUMN IF EXISTS opened_by, DROP COLUMN IF EXISTS token_seed"
    )
