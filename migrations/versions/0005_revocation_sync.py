"""Recently ended sessions, for restoring Redis revocation records after a data loss.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

from migrations.rls import grant_function

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION idp_sessions_revoked_since(p_since timestamptz)
        RETURNS TABLE (id uuid, revoked_at timestamptz)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ SELECT s.id, s.revoked_at FROM public.sessions s WHERE s.revoked_at >= p_since $$
        """
    )
    op.execute("CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL")
    grant_function("idp_sessions_revoked_since(timestamptz)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_sessions_revoked_since(timestamptz)")
    op.execute("DROP INDEX IF EXISTS sessions_revoked_at")
