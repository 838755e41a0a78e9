"""Files: metadata of objects stored in S3, with RLS, and the sweeper's lookup.

Revision ID: 0301
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

from migrations.rls import enable_tenant_rls, grant, grant_function

revision = "0301"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE files (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            object_key text NOT NULL UNIQUE,
            filename text NOT NULL,
            content_type text NOT NULL,
            size bigint NOT NULL CHECK (size > 0),
            status text NOT NULL CHECK (status IN ('pending', 'ready', 'rejected')),
            created_by uuid,
            created_at timestamptz NOT NULL,
            updated_at timestamptz NOT NULL,
            uploaded_at timestamptz,
            UNIQUE (tenant_id, id),
            -- A deleted user's files stay with the tenant (SPEC 4.3): only the author goes.
            FOREIGN KEY (tenant_id, created_by) REFERENCES users (tenant_id, id)
                ON DELETE SET NULL (created_by)
        )
        """
    )
    op.execute("CREATE INDEX files_page ON files (tenant_id, created_at DESC, id DESC)")
    op.execute("CREATE INDEX files_unfinished ON files (created_at) WHERE status <> 'ready'")
    enable_tenant_rls("files")
    grant("files", "SELECT, INSERT, UPDATE, DELETE")

    # The sweeper looks across tenants for unfinished (pending or rejected) uploads older
    # than a cutoff: it gets
    # only (tenant_id, id) pairs, then deletes each in a unit of work bound to its tenant.
    op.execute(
        """
        CREATE FUNCTION idp_files_expired_uploads(p_cutoff timestamptz, p_limit integer)
        RETURNS TABLE (tenant_id uuid, id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ SELECT f.tenant_id, f.id FROM public.files f
           WHERE f.status <> 'ready' AND f.created_at < p_cutoff
           ORDER BY f.created_at LIMIT p_limit $$
        """
    )
    grant_function("idp_files_expired_uploads(timestamptz, integer)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_files_expired_uploads(timestamptz, integer)")
    op.execute("DROP TABLE IF EXISTS files")
