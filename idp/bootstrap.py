"""``idp migrate``: create the roles and the database where allowed, then run Alembic."""

import asyncio
import logging
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL

from idp.preflight import ServiceUnreachable, check_postgres, redact
from idp.settings import Settings, asyncpg_url

log = logging.getLogger("idp.migrate")
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _dsn(url: URL, database: str | None = None) -> str:
    plain = url.set(drivername="postgresql")
    if database is not None:
        plain = plain.set(database=database)
    return plain.render_as_string(hide_password=False)


async def _ensure_role(
    conn: asyncpg.Connection, name: str, password: str | None, *, owner: bool
) -> None:
    # The application role must never bypass RLS nor be a superuser, even if it existed.
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE " + (
        "BYPASSRLS" if owner else "NOBYPASSRLS"
    )
    exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", name)
    verb = "ALTER" if exists else "CREATE"
    statement = await conn.fetchval(
        "SELECT format('%s ROLE %I WITH ' || $3, $1::text, $2::text)", verb, name, attributes
    )
    await conn.execute(statement)
    if password:
        await conn.execute(
            await conn.fetchval(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", name, password
            )
        )


async def create_roles_and_database(settings: Settings) -> bool:
    """True when the admin connection was allowed to do it; False when it was not."""
    admin = asyncpg_url(settings.admin_database_url)
    owner = asyncpg_url(settings.owner_database_url)
    app = asyncpg_url(settings.database_url)
    assert owner.username
    assert app.username
    assert app.database
    try:
        conn = await asyncpg.connect(_dsn(admin), timeout=5)
    except (
        asyncpg.InvalidAuthorizationSpecificationError,
        asyncpg.InvalidPasswordError,
        asyncpg.InvalidCatalogNameError,
    ) as exc:
        log.warning(
            "no admin access at %s (%s): assuming roles and database exist",
            redact(settings.admin_database_url),
            exc,
        )
        return False
    except OSError as exc:
        raise ServiceUnreachable("PostgreSQL", settings.admin_database_url, str(exc)) from None
    try:
        can = await conn.fetchval(
            "SELECT rolsuper OR (rolcreaterole AND rolcreatedb) FROM pg_roles"
            " WHERE rolname = current_user"
        )
        if not can:
            log.warning("%s may not create roles: assuming they exist", admin.username)
            return False
        await _ensure_role(conn, owner.username, owner.password, owner=True)
        await _ensure_role(conn, app.username, app.password, owner=False)
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", app.database):
            await conn.execute(
                await conn.fetchval(
                    "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)",
                    app.database,
                    owner.username,
                )
            )
        await conn.execute(
            await conn.fetchval(
                "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', $1::text, $2::text)",
                app.database,
                app.username,
            )
        )
    finally:
        await conn.close()
    # Inside the new database: the public schema belongs to the owner and nobody else creates in it.
    conn = await asyncpg.connect(_dsn(admin, database=app.database), timeout=5)
    try:
        await conn.execute(
            await conn.fetchval(
                "SELECT format('ALTER SCHEMA public OWNER TO %I', $1::text)", owner.username
            )
        )
        await conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    finally:
        await conn.close()
    return True


def alembic_config(settings: Settings) -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["url"] = settings.owner_database_url
    config.attributes["app_role"] = asyncpg_url(settings.database_url).username
    return config


async def migrate(settings: Settings) -> None:
    """Bootstrap roles and database, then ``alembic upgrade head`` as the owner."""
    await create_roles_and_database(settings)
    await check_postgres(settings.owner_database_url)
    await asyncio.to_thread(command.upgrade, alembic_config(settings), "heads")
