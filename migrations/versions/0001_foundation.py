"""Foundation: tenants, roles, users, sessions, audit log, outbox, with RLS.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

from migrations.rls import enable_tenant_rls, grant, grant_function

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute('GRANT USAGE ON SCHEMA public TO "{}"'.format(op.get_context().opts["app_role"]))

    op.execute(
        """
        CREATE TABLE tenants (
            id uuid PRIMARY KEY,
            slug text NOT NULL UNIQUE,
            name text NOT NULL,
            settings jsonb NOT NULL DEFAULT '{}'::jsonb,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    enable_tenant_rls("tenants", column="id")
    grant("tenants", "SELECT, INSERT, UPDATE")

    op.execute(
        """
        CREATE TABLE roles (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            name text NOT NULL,
            description text NOT NULL DEFAULT '',
            permissions text[] NOT NULL DEFAULT '{}',
            builtin boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (tenant_id, id),
            UNIQUE (tenant_id, name)
        )
        """
    )
    enable_tenant_rls("roles")
    grant("roles", "SELECT, INSERT, UPDATE, DELETE")

    op.execute(
        """
        CREATE TABLE users (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            email text NOT NULL,
            name text NOT NULL,
            password_hash text,
            status text NOT NULL CHECK (status IN ('active', 'disabled', 'invited')),
            role_id uuid NOT NULL,
            email_verified boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            UNIQUE (tenant_id, id),
            FOREIGN KEY (tenant_id, role_id) REFERENCES roles (tenant_id, id)
        )
        """
    )
    op.execute("CREATE UNIQUE INDEX users_tenant_email ON users (tenant_id, lower(email))")
    op.execute("CREATE INDEX users_tenant_role ON users (tenant_id, role_id)")
    enable_tenant_rls("users")
    grant("users", "SELECT, INSERT, UPDATE, DELETE")

    op.execute(
        """
        CREATE TABLE sessions (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL,
            user_id uuid NOT NULL,
            refresh_hash bytea NOT NULL,
            previous_hash bytea,
            rotated_at timestamptz,
            grace_blob bytea,
            created_at timestamptz NOT NULL DEFAULT now(),
            last_used_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz,
            revoke_reason text,
            user_agent text,
            ip text,
            FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
        )
        """
    )
    op.execute(
        "CREATE INDEX sessions_user_live ON sessions (tenant_id, user_id) WHERE revoked_at IS NULL"
    )
    enable_tenant_rls("sessions")
    grant("sessions", "SELECT, INSERT, UPDATE, DELETE")

    op.execute(
        """
        CREATE TABLE audit_log (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
            occurred_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            actor_id uuid,
            action text NOT NULL,
            target_type text,
            target_id text,
            data jsonb NOT NULL DEFAULT '{}'::jsonb,
            request_id text,
            ip text
        )
        """
    )
    op.execute("CREATE INDEX audit_log_page ON audit_log (tenant_id, occurred_at DESC, id DESC)")
    enable_tenant_rls("audit_log")
    grant("audit_log", "SELECT, INSERT")

    op.execute(
        """
        CREATE TABLE outbox (
            id uuid PRIMARY KEY,
            tenant_id uuid NOT NULL,
            event_type text NOT NULL,
            body jsonb NOT NULL,
            created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            published_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX outbox_pending ON outbox (created_at) WHERE published_at IS NULL")
    enable_tenant_rls("outbox")
    grant("outbox", "INSERT")

    # Cross-tenant lookups the application role may make, and nothing more: each runs as
    # the owner (BYPASSRLS) with a fixed search_path and returns only what it names.
    op.execute(
        """
        CREATE FUNCTION idp_tenant_id_by_slug(p_slug text) RETURNS uuid
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ SELECT id FROM public.tenants WHERE slug = p_slug $$
        """
    )
    grant_function("idp_tenant_id_by_slug(text)")
    op.execute(
        """
        CREATE FUNCTION idp_outbox_claim(p_limit integer)
        RETURNS TABLE (id uuid, event_type text, body jsonb)
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ SELECT o.id, o.event_type, o.body FROM public.outbox o
           WHERE o.published_at IS NULL ORDER BY o.created_at
           LIMIT p_limit FOR UPDATE SKIP LOCKED $$
        """
    )
    grant_function("idp_outbox_claim(integer)")
    op.execute(
        """
        CREATE FUNCTION idp_outbox_mark_published(p_ids uuid[]) RETURNS void
        LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS
        $$ UPDATE public.outbox SET published_at = clock_timestamp() WHERE id = ANY(p_ids) $$
        """
    )
    grant_function("idp_outbox_mark_published(uuid[])")


def downgrade() -> None:
    for fn in (
        "idp_outbox_mark_published(uuid[])",
        "idp_outbox_claim(integer)",
        "idp_tenant_id_by_slug(text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {fn}")
    for table in ("outbox", "audit_log", "sessions", "users", "roles", "tenants"):
        op.execute(f"DROP TABLE IF EXISTS {table}")
