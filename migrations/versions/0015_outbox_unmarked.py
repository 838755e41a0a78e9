"""The outbox keeps no publication mark: a row there is an event not yet published.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05

Since 0014 the relay deletes what the broker confirmed, so ``published_at`` stayed NULL
in every row and the pending index's predicate held for all of them. The column goes,
the index becomes a plain one on ``created_at`` (the relay claims oldest first), and
the claim and the backlog count no longer test it.
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_CLAIM = """
    CREATE OR REPLACE FUNCTION idp_outbox_claim(p_limit integer)
    RETURNS TABLE (id uuid, event_type text, body jsonb)
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
    $$ SELECT o.id, o.event_type, o.body FROM public.outbox o
       {where}ORDER BY o.created_at
       LIMIT p_limit FOR UPDATE SKIP LOCKED $$
"""
_BACKLOG = """
    CREATE OR REPLACE FUNCTION idp_outbox_backlog() RETURNS bigint
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
    $$ SELECT count(*) FROM public.outbox{where} $$
"""


def upgrade() -> None:
    # CREATE OR REPLACE keeps each function's grants (migrations.rls.grant_function).
    op.execute(_CLAIM.format(where=""))
    op.execute(_BACKLOG.format(where=""))
    op.execute("CREATE INDEX outbox_created ON outbox (created_at)")
    op.execute("DROP INDEX outbox_pending")
    op.execute("ALTER TABLE outbox DROP COLUMN published_at")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox ADD COLUMN published_at timestamptz")
    op.execute("CREATE INDEX outbox_pending ON outbox (created_at) WHERE published_at IS NULL")
    op.execute("DROP INDEX outbox_created")
    op.execute(_BACKLOG.format(where=" WHERE published_at IS NULL"))
    op.execute(_CLAIM.format(where="WHERE o.published_at IS NULL\n       "))
