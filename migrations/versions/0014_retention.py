"""Retention: published events leave the outbox, ended sessions and spent tokens go.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04

A soak audit found three tables that only grew:

- ``outbox``: published rows were marked, never deleted, and the events of password
  resets, invitations and email verifications hold their single-use token in clear
  text (a mailer needs it). The relay now deletes what the broker confirmed; the
  published rows already there go now.
- ``sessions``: ended sessions (revoked, or past their absolute end) stayed forever,
  with their address and user agent.
- ``one_time_tokens``: used and expired tokens stayed forever.

The worker's hourly housekeeping deletes ended sessions and spent or expired tokens a
day after they ended (``workers/maintenance.py``): long enough for the same message
delivered again to find what it did (the idempotency window is a day too), and far
past the revocation records restored from PostgreSQL (one access-token lifetime).
"""

from alembic import op

from migrations.rls import grant_function

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE OR REPLACE FUNCTION idp_outbox_mark_published(p_ids uuid[]) RETURNS void
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ DELETE FROM public.outbox WHERE id = ANY(p_ids) $$
        """
    )
    op.execute("DELETE FROM outbox WHERE published_at IS NOT NULL")
    op.execute("CREATE INDEX sessions_ended ON sessions (least(revoked_at, expires_at))")
    op.execute(
        """
        CREATE FUNCTION idp_sessions_prune(p_before timestamptz) RETURNS integer
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ WITH gone AS (DELETE FROM public.sessions
                         WHERE least(revoked_at, expires_at) < p_before RETURNING 1)
           SELECT count(*)::integer FROM gone $$
        """
    )
    grant_function("idp_sessions_prune(timestamptz)")
    op.execute("CREATE INDEX one_time_tokens_ended ON one_time_tokens (least(used_at, expires_at))")
    op.execute(
        """
        CREATE FUNCTION idp_one_time_tokens_prune(p_before timestamptz) RETURNS integer
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ WITH gone AS (DELETE FROM public.one_time_tokens
                         WHERE least(used_at, expires_at) < p_before RETURNING 1)
           SELECT count(*)::integer FROM gone $$
        """
    )
    grant_function("idp_one_time_tokens_prune(timestamptz)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_one_time_tokens_prune(timestamptz)")
    op.execute("DROP INDEX IF EXISTS one_time_tokens_ended")
    op.execute("DROP FUNCTION IF EXISTS idp_sessions_prune(timestamptz)")
    op.execute("DROP INDEX IF EXISTS sessions_ended")
    op.execute(
        """
        CREATE OR REPLACE FUNCTION idp_outbox_mark_published(p_ids uuid[]) RETURNS void
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ UPDATE public.outbox SET published_at = clock_timestamp() WHERE id = ANY(p_ids) $$
        """
    )
