"""The outbox backlog, readable by the workers for their metrics.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from alembic import op

from migrations.rls import grant_function

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION idp_outbox_backlog() RETURNS bigint
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ SELECT count(*) FROM public.outbox WHERE published_at IS NULL $$
        """
    )
    grant_function("idp_outbox_backlog()")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_outbox_backlog()")
