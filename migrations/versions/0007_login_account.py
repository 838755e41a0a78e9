"""One round trip for login's lookup: the tenant by slug, then the account in it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

A SECURITY INVOKER function: it resolves the slug with ``idp_tenant_id_by_slug`` (the
narrow definer function), scopes its own transaction to that tenant with
``set_config(..., true)`` and reads the account under the caller's row-level security,
so it can see nothing the application role could not see after binding the tenant
itself. Called alone (an implicit transaction), the setting ends with the statement.
One row when the tenant exists (account columns NULL when no account has that e-mail),
none when it does not.
"""

from alembic import op

from migrations.rls import grant_function

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION idp_login_account(p_slug text, p_email text)
        RETURNS TABLE (
            tenant_id uuid, tenant_slug text, tenant_name text, tenant_settings jsonb,
            tenant_created_at timestamptz, id uuid, email text, name text, status text,
            email_verified boolean, created_at timestamptz, updated_at timestamptz,
            password_hash text, role_id uuid, role text, permissions text[]
        )
        LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public AS
        $$
        DECLARE
            found uuid := public.idp_tenant_id_by_slug(p_slug);
        BEGIN
            IF found IS NULL THEN
                RETURN;
            END IF;
            PERFORM set_config('app.tenant_id', found::text, true);
            RETURN QUERY
                SELECT t.id, t.slug, t.name, t.settings, t.created_at, a.id, a.email, a.name,
                       a.status, a.email_verified, a.created_at, a.updated_at,
                       a.password_hash, a.role_id, a.role, a.permissions
                FROM public.tenants t
                LEFT JOIN (
                    SELECT u.id, u.tenant_id, u.email, u.name, u.status, u.email_verified,
                           u.created_at, u.updated_at, u.password_hash, u.role_id,
                           r.name AS role, r.permissions
                    FROM public.users u
                    JOIN public.roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
                    WHERE lower(u.email) = lower(p_email)
                ) a ON a.tenant_id = t.id
                WHERE t.id = found;
        END
        $$
        """
    )
    grant_function("idp_login_account(text, text)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_login_account(text, text)")
