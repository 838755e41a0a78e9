"""``idp migrate``: create the roles and the database where allowed, then run Alembic."""

import asyncio
import logging
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError

from idp.preflight import ServiceUnreachable, StartupFailure, check_postgres, redact
from idp.settings import Settings, asyncpg_url

log = logging.getLogger("idp.migrate")
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _dsn(url: URL, database: str | None = None) -> str:
    plain = url.set(drivername="postgresql")
    if database is not None:
        plain = plain.set(database=database)
    return plain.render_as_string(hide_password=False)


def _role_urls(settings: Settings) -> tuple[URL, URL, URL, str, str, str]:
    """The admin, owner and application URLs, with the names migrate needs from them;
    a URL without them is one line, not an assertion's traceback."""
    try:
        admin = asyncpg_url(settings.admin_database_url)
        owner = asyncpg_url(settings.owner_database_url)
        app = asyncpg_url(settings.database_url)
    except (ArgumentError, ValueError) as exc:
        raise StartupFailure(f"a database URL does not parse: {exc}") from None
    if not app.username or not app.database:
        raise StartupFailure(
            f"DATABASE_URL ({redact(settings.database_url)}) must name its role and database,"
            " e.g. postgresql://idp_app:idp_app@127.0.0.1:5432/idp"
        )
    if not owner.username:
        raise StartupFailure(
            f"DATABASE_OWNER_URL ({redact(settings.owner_database_url)}) must name its role"
        )
    if app.username in (owner.username, admin.username):
        raise StartupFailure(
            f"DATABASE_URL's role {app.username!r} is also the owner's or the admin's: the"
            " application role must be one of its own, bound by row-level security (SPEC 6)"
        )
    return admin, owner, app, owner.username, app.username, app.database


async def _ensure_role(
    conn: asyncpg.Connection, name: str, password: str | None, *, owner: bool
) -> None:
    """Create the role with its password; an existing one keeps its password, and is only
    brought to the attributes its part needs. A superuser is never altered: as the owner
    it may stay one; as the application role it is refused (RLS would not bind it)."""
    # None when there is no such role.
    superuser = await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", name)
    if superuser:
        if owner:
            return
        raise StartupFailure(
            f"the application role {name!r} is a superuser, which row-level security does"
            " not bind: name a role of its own in DATABASE_URL (e.g. idp_app)"
        )
    # The application role must never bypass RLS, even if it existed.
    attributes = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE " + (
        "BYPASSRLS" if owner else "NOBYPASSRLS"
    )
    verb = "CREATE" if superuser is None else "ALTER"
    statement = await conn.fetchval(
        "SELECT format('%s ROLE %I WITH ' || $3, $1::text, $2::text)", verb, name, attributes
    )
    await conn.execute(statement)
    if password and superuser is None:
        await conn.execute(
            await conn.fetchval(
                "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)", name, password
            )
        )


async def create_roles_and_database(settings: Settings) -> bool:
    """True when the admin connection was allowed to do it; False when it was not."""
    admin, owner, app, owner_role, app_role, database = _role_urls(settings)
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
    except (OSError, TimeoutError) as exc:
        raise ServiceUnreachable(
            "PostgreSQL",
            settings.admin_database_url,
            str(exc) or type(exc).__name__,
            derived_from=None if settings.database_admin_url else "DATABASE_URL",
        ) from None
    try:
        can = await conn.fetchval(
            "SELECT rolsuper OR (rolcreaterole AND rolcreatedb) FROM pg_roles"
            " WHERE rolname = current_user"
        )
        if not can:
            log.warning("%s may not create roles: assuming they exist", admin.username)
            return False
        await _ensure_role(conn, owner_role, owner.password, owner=True)
        await _ensure_role(conn, app_role, app.password, owner=False)
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(
                await conn.fetchval(
                    "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)",
                    database,
                    owner_role,
                )
            )
        await conn.execute(
            await conn.fetchval(
                "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', $1::text, $2::text)",
                database,
                app_role,
            )
        )
    finally:
        await conn.close()
    # Inside the new database: the public schema belongs to the owner and nobody else creates in it.
    conn = await asyncpg.connect(_dsn(admin, database=database), timeout=5)
    try:
        await conn.execute(
            await conn.fetchval(
                "SELECT format('ALTER SCHEMA public OWNER TO %I', $1::text)", owner_role
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
    try:
        await check_postgres(settings.owner_database_url)
    except ServiceUnreachable as refused:
        if settings.database_owner_url or "password" not in str(refused):
            raise
        # The derived owner URL carries no password (never the application role's).
        raise StartupFailure(
            f"{refused}; the owner's URL is derived from DATABASE_URL without a password:"
            " set DATABASE_OWNER_URL with the idp_owner role's password"
        ) from None
    await asyncio.to_thread(command.upgrade, alembic_config(settings), "heads")
