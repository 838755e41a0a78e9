"""A users page and a refresh rotation, each a single statement scoped by itself.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

The same shape as 0007 and 0008: SECURITY INVOKER functions, so row-level security
applies as for any statement of the application role; each binds the tenant it is
given with ``set_config(..., true)`` (what the unit of work does first in every
transaction) and then works under that binding. Called alone, the statement is its own
transaction and the binding ends with it: no BEGIN, COMMIT or pool reset round trips.

- ``idp_user_page``: one page of ``users.list`` in (created_at, id) order. Two static
  queries, the first page and the pages after a cursor, so each keeps a plan that walks
  ``users_tenant_page`` from the right place instead of filtering from the start.
- ``idp_session_and_owner``: a refresh's session, user and tenant, read without a lock
  (no row when the user is gone).
- ``idp_rotate_session``: the rotation as a compare-and-set. It changes the session
  only while the presented hash is still its current one and the session is live, and
  says whether it did. A refresh that loses the race (a parallel tab, a revocation)
  falls back to the locked path, which decides between grace and reuse.
"""

from alembic import op

from migrations.rls import grant_function

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_PAGE_COLUMNS = """
    u.id::text, u.tenant_id::text, u.email, u.name, r.name, u.status, u.email_verified,
    u.created_at, u.updated_at
"""
_PAGE_FILTERS = """
    (p_pattern IS NULL OR u.email ILIKE p_pattern ESCAPE '\\'
                       OR u.name ILIKE p_pattern ESCAPE '\\')
    AND (p_role IS NULL OR r.name = p_role)
    AND (p_status IS NULL OR u.status = p_status)
"""


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION idp_user_page(
            p_tenant uuid, p_limit integer, p_after_at timestamptz, p_after_id uuid,
            p_pattern text, p_role text, p_status text
        )
        RETURNS TABLE (
            id text, tenant_id text, email text, name text, role text, status text,
            email_verified boolean, created_at timestamptz, updated_at timestamptz
        )
        LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public AS
        $$
        BEGIN
            PERFORM set_config('app.tenant_id', p_tenant::text, true);
            IF p_after_at IS NULL THEN
                RETURN QUERY
                    SELECT {_PAGE_COLUMNS}
                    FROM public.users u
                    JOIN public.roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
                    WHERE {_PAGE_FILTERS}
                    ORDER BY u.created_at, u.id
                    LIMIT p_limit;
            ELSE
                RETURN QUERY
                    SELECT {_PAGE_COLUMNS}
                    FROM public.users u
                    JOIN public.roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
                    WHERE (u.created_at, u.id) > (p_after_at, p_after_id) AND {_PAGE_FILTERS}
                    ORDER BY u.created_at, u.id
                    LIMIT p_limit;
            END IF;
        END
        $$
        """
    )
    grant_function("idp_user_page(uuid, integer, timestamptz, uuid, text, text, text)")
    op.execute(
        """
        CREATE FUNCTION idp_session_and_owner(p_tenant uuid, p_session uuid)
        RETURNS TABLE (
            session_id uuid, session_user_id uuid, refresh_hash bytea, previous_hash bytea,
            rotated_at timestamptz, grace_blob bytea, expires_at timestamptz,
            revoked_at timestamptz,
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
                SELECT s.id, s.user_id, s.refresh_hash, s.previous_hash, s.rotated_at,
                       s.grace_blob, s.expires_at, s.revoked_at,
                       u.id, u.tenant_id, u.email, u.name, u.status, u.email_verified,
                       u.created_at, u.updated_at, u.password_hash, u.role_id, r.name,
                       r.permissions, t.slug, t.name, t.settings, t.created_at
                FROM public.sessions s
                JOIN public.users u ON u.id = s.user_id
                JOIN public.roles r ON r.id = u.role_id AND r.tenant_id = u.tenant_id
                JOIN public.tenants t ON t.id = u.tenant_id
                WHERE s.id = p_session;
        END
        $$
        """
    )
    grant_function("idp_session_and_owner(uuid, uuid)")
    op.execute(
        """
        CREATE FUNCTION idp_rotate_session(
            p_tenant uuid, p_session uuid, p_presented bytea, p_new bytea, p_grace bytea,
            p_now timestamptz, p_user_agent text, p_ip text
        )
        RETURNS boolean
        LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = pg_catalog, public AS
        $$
        BEGIN
            PERFORM set_config('app.tenant_id', p_tenant::text, true);
            UPDATE public.sessions s
            SET refresh_hash = p_new, previous_hash = p_presented, grace_blob = p_grace,
                rotated_at = p_now, last_used_at = p_now, user_agent = p_user_agent,
                ip = p_ip
            WHERE s.id = p_session AND s.refresh_hash = p_presented
              AND s.revoked_at IS NULL AND s.expires_at > p_now;
            RETURN FOUND;
        END
        $$
        """
    )
    grant_function(
        "idp_rotate_session(uuid, uuid, bytea, bytea, bytea, timestamptz, text, text)"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS idp_rotate_session(uuid, uuid, bytea, bytea, bytea, "
               "timestamptz, text, text)")
    op.execute("DROP FUNCTION IF EXISTS idp_session_and_owner(uuid, uuid)")
    op.execute(
        "DROP FUNCTION IF EXISTS idp_user_page(uuid, integer, timestamptz, uuid, text, text, text)"
    )
