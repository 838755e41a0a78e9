"""Row-level security, proven as the application role on the real PostgreSQL (SPEC 6)."""

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import DBAPIError

from idp.security.tokens import refresh_token_hash
from idp.settings import Settings, asyncpg_dsn, asyncpg_url
from tests.integration.conftest import new_tenant
from workers.auth import repository as sessions
from workers.runtime import Runtime
from workers.tables import audit_log, outbox, roles, tenants, users
from workers.tables import sessions as sessions_table
from workers.uow import Database
from workers.users import repository as user_repo

TENANT_TABLES = (
    "tenants",
    "roles",
    "users",
    "sessions",
    "audit_log",
    "outbox",
    "one_time_tokens",
    "processed_messages",
    "files",
)


async def test_without_a_tenant_every_table_looks_empty(runtime: Runtime, db: Database) -> None:
    await new_tenant(runtime)
    async with db.transaction() as uow:
        for table in (tenants, roles, users, sessions_table, audit_log):
            count = (await uow.connection.execute(select(func.count()).select_from(table))).scalar()
            assert count == 0, table.name


async def test_a_tenant_cannot_read_another_tenants_rows(runtime: Runtime, db: Database) -> None:
    a, b = await new_tenant(runtime), await new_tenant(runtime, email="only-in-b@example.com")
    b_session = runtime.authenticator.codec.verify_refresh(b.refresh_token or "").sid
    async with db.transaction(a.tenant.id) as uow:
        assert await user_repo.user_by_id(uow, b.user.id) is None
        assert await user_repo.user_by_email(uow, b.user.email) is None
        assert await user_repo.get_tenant(uow, b.tenant.id) is None
        assert await sessions.lock_session_with_owner(uow, b_session) is None
        assert await user_repo.user_and_tenant_alone(db, a.tenant.id, b.user.id) is None
        visible = (
            (await uow.connection.execute(select(users.c.tenant_id).distinct())).scalars().all()
        )
        assert visible == [a.tenant.id]
        role_tenants = (
            await uow.connection.execute(select(roles.c.tenant_id).distinct())
        ).scalars()
        assert list(role_tenants) == [a.tenant.id]
    # The self-scoping single statements see only the tenant they are given.
    for after in (None, (datetime(2000, 1, 1, tzinfo=UTC), uuid.UUID(int=0))):
        listed = await user_repo.list_users(
            db, a.tenant.id, limit=50, after=after, q=None, role=None, status=None
        )
        assert [row["id"] for row in listed] == [str(a.user.id)]
        found_b = await user_repo.list_users(
            db, a.tenant.id, limit=50, after=after, q="only-in-b", role=None, status=None
        )
        assert found_b == []
    assert await sessions.session_and_owner(db, a.tenant.id, b_session) is None
    b_read = await sessions.session_and_owner(db, b.tenant.id, b_session)
    assert b_read is not None
    assert b_read[0].id == b_session
    assert await user_repo.user_and_tenant_alone(db, a.tenant.id, b.user.id) is None
    found = await user_repo.user_and_tenant_alone(db, b.tenant.id, b.user.id)
    assert found is not None
    assert found[1].id == b.tenant.id
    # Login's one-round-trip lookup scopes itself to the tenant it names.
    tenant, user, _ = await user_repo.login_account(db, a.tenant.slug, "only-in-b@example.com")
    assert tenant is not None
    assert tenant.id == a.tenant.id
    assert user is None
    tenant, user, _ = await user_repo.login_account(db, b.tenant.slug, "only-in-b@example.com")
    assert tenant is not None
    assert user is not None
    assert user.view.id == b.user.id


async def test_a_tenant_cannot_change_another_tenants_rows(runtime: Runtime, db: Database) -> None:
    a, b = await new_tenant(runtime), await new_tenant(runtime)
    async with db.transaction(a.tenant.id) as uow:
        changed = await uow.connection.execute(
            update(users).where(users.c.id == b.user.id).values(name="pwned")
        )
        assert changed.rowcount == 0
        changed = await uow.connection.execute(
            update(tenants).where(tenants.c.id == b.tenant.id).values(name="pwned")
        )
        assert changed.rowcount == 0
        deleted = await uow.connection.execute(
            text("DELETE FROM sessions WHERE tenant_id = :t"), {"t": b.tenant.id}
        )
        assert deleted.rowcount == 0
    async with db.transaction(b.tenant.id) as uow:
        user = await user_repo.user_by_id(uow, b.user.id)
        tenant = await user_repo.get_tenant(uow, b.tenant.id)
    assert user is not None
    assert user.view.name == "Owner"
    assert tenant is not None
    assert tenant.name == b.tenant.name


@pytest.mark.parametrize("table", ["users", "audit_log", "outbox", "sessions", "roles"])
async def test_a_tenant_cannot_insert_rows_for_another_tenant(
    runtime: Runtime, db: Database, table: str
) -> None:
    a, b = await new_tenant(runtime), await new_tenant(runtime)
    values = {
        "users": insert(users).values(
            id=uuid.uuid4(),
            tenant_id=b.tenant.id,
            email="x@example.com",
            name="x",
            status="active",
            role_id=uuid.uuid4(),
            email_verified=False,
            created_at=func.now(),
            updated_at=func.now(),
        ),
        "audit_log": insert(audit_log).values(
            id=uuid.uuid4(), tenant_id=b.tenant.id, action="forged", data={}
        ),
        "outbox": insert(outbox).values(
            id=uuid.uuid4(), tenant_id=b.tenant.id, event_type="forged", body={}
        ),
        "sessions": insert(sessions_table).values(
            id=uuid.uuid4(),
            tenant_id=b.tenant.id,
            user_id=b.user.id,
            refresh_hash=refresh_token_hash("x"),
            expires_at=func.now(),
        ),
        "roles": insert(roles).values(
            id=uuid.uuid4(),
            tenant_id=b.tenant.id,
            name="forged",
            description="",
            permissions=[],
            builtin=False,
            created_at=func.now(),
            updated_at=func.now(),
        ),
    }[table]
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.transaction(a.tenant.id) as uow:
            await uow.connection.execute(values)


async def test_the_application_role_is_neither_superuser_nor_bypassrls_nor_owner(
    settings: Settings,
) -> None:
    app_role = asyncpg_url(settings.database_url).username
    conn = await asyncpg.connect(asyncpg_dsn(settings.database_url))
    try:
        role = await conn.fetchrow(
            "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
            " WHERE rolname = current_user"
        )
        owned = await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND pg_get_userbyid(c.relowner) = $1",
            app_role,
        )
    finally:
        await conn.close()
    assert role is not None
    assert dict(role) == {
        "rolsuper": False,
        "rolbypassrls": False,
        "rolcreaterole": False,
        "rolcreatedb": False,
    }
    assert owned == []


async def test_every_table_with_tenant_id_has_rls_enabled_and_forced(settings: Settings) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(settings.owner_database_url))
    try:
        rows = await conn.fetch(
            """
            SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                   (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind = 'r' AND (
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                        AND a.attname = 'tenant_id' AND NOT a.attisdropped)
                OR c.relname = 'tenants')
            """
        )
    finally:
        await conn.close()
    names = {row["relname"] for row in rows}
    assert set(TENANT_TABLES) <= names
    for row in rows:
        assert row["relrowsecurity"], row["relname"]
        assert row["relforcerowsecurity"], row["relname"]
        assert row["policies"] >= 1, row["relname"]


async def test_emails_are_unique_per_tenant_case_insensitively(runtime: Runtime) -> None:
    a = await new_tenant(runtime, email="Same@Example.com")
    b = await new_tenant(runtime, email="same@example.com")
    assert a.user.email.lower() == b.user.email.lower()
    with pytest.raises(DBAPIError, match="users_tenant_email"):
        async with runtime.db.transaction(a.tenant.id) as uow:
            await user_repo.insert_user(
                uow,
                user_id=uuid.uuid4(),
                tenant_id=a.tenant.id,
                email="SAME@example.COM",
                name="dup",
                password_hash=None,
                status="invited",
                role_id=(await user_repo.user_by_id(uow, a.user.id)).role_id,  # type: ignore[union-attr]
                now=a.user.created_at,
            )
