"""Processed messages: apply each authenticated write once per message_id.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

from migrations.rls import enable_tenant_rls, grant, grant_function

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE processed_messages (
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            user_id uuid NOT NULL,
            message_id text NOT NULL,
            routing_key text NOT NULL,
            request_hash bytea NOT NULL,
            reply jsonb NOT NULL DEFAULT 'null'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (tenant_id, user_id, message_id)
        )
        """
    )
    op.execute("CREATE INDEX processed_messages_age ON processed_messages (created_at)")
    enable_tenant_rls("processed_messages")
    grant("processed_messages", "SELECT, INSERT, UPDATE")
    op.execute(
        """
        CREATE FUNCTION idp_processed_messages_prune(p_before timestamptz) RETURNS integer
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ WITH gone AS (DELETE FROM public.processed_messages WHERE created_at < p_before
                         RETURNING 1) SELECT count(*)::integer FROM gone $$
        """
    )
    grant_function("idp_processed_messages_prune(timestamptz)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_processed_messages_prune(timestamptz)")
    op.execute("DROP TABLE IF EXISTS processed_messages")
