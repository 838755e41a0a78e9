"""Helpers the revisions share: tenant RLS policies and the application role's grants."""

from alembic import op

TENANT_SETTING = "nullif(current_setting('app.tenant_id', true), '')::uuid"


def app_role() -> str:
    role: str = op.get_context().opts["app_role"]
    return role


def enable_tenant_rls(table: str, column: str = "tenant_id") -> None:
    """ENABLE and FORCE RLS; rows are visible and writable only for the transaction's tenant."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({column} = {TENANT_SETTING}) WITH CHECK ({column} = {TENANT_SETTING})"
    )


def grant(table: str, privileges: str) -> None:
    op.execute(f'GRANT {privileges} ON {table} TO "{app_role()}"')


def grant_function(signature: str) -> None:
    op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    op.execute(f'GRANT EXECUTE ON FUNCTION {signature} TO "{app_role()}"')
