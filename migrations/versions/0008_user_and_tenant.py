"""``auth.me`` in one round trip: a user and their tenant, scoped by the function itself.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

Like 0007's ``idp_login_account``: SECURITY INVOKER, so row-level security applies as
for any statement of the application role; it binds the tenant it is given with
``set_config(..., true)`` (exactly what the unit of work does first in every
transaction) and reads under that binding. Called alone, the setting ends with the
statement's own transaction, which saves the BEGIN and COMMIT round trips of a read.
"""

from alembic import op

from migrations.rls import grant_function

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE FUNCTION idp_user_and_tenant(p_tenant uuid, p_user uuid)
        RETURNS TABLE (
            id uuid, tenant_id uuid, email text, name text, status text,
            email_verified boolean, created_at timestamptz, updated_at timestamptz,
            password_hash text, role_id uuid, role text, permissions text[],
            tenant_slug text, tenant_name text, tenant_settings jsonb,
            tenant_created_at timestamptz
        )
        LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public AS
        $$
        BEGIN
            PERFORM set_config('app.tenant_id', p_tenant::text, true);
            RETURN QUERY
                SELECT u.id, u.tenant_id, u.email, u.name, u.status, u.email_verified,
                       u.created_at, u.updated_at, u.password_hash, u.role_id, r.name,
                       r.permissions, t.slug, t.name, t.settings, t.created_at
                FROM public.users u
                JOIN public.roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
                JOIN public.tenants t ON t.id = u.tenant_id
                WHERE u.id = p_user;
        END
        $$
        """
    )
    grant_function("idp_user_and_tenant(uuid, uuid)")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_user_and_tenant(uuid, uuid)")
