"""One-time tokens: invitations, password resets, email verification.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op

from migrations.rls import enable_tenant_rls, grant

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE one_time_tokens (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            purpose text NOT NULL
                CHECK (purpose IN ('invite', 'password_reset', 'verify_email')),
            token_hash bytea NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            used_at timestamptz,
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX one_time_tokens_user ON one_time_tokens (tenant_id, user_id, purpose)"
    )
    enable_tenant_rls("one_time_tokens")
    grant("one_time_tokens", "SELECT, INSERT, UPDATE, DELETE")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS one_time_tokens")
