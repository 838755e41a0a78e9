"""SQLAlchemy Core tables mirroring the migrations; repositories build SQL from these."""

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    Table,
    Text,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()


def _ts(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


tenants = Table(
    "tenants",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("slug", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("settings", JSONB, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    Column("signup_key", LargeBinary),  # migration 0010
)

roles = Table(
    "roles",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("name", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("permissions", ARRAY(Text), nullable=False),
    Column("builtin", Boolean, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("password_hash", Text),
    Column("status", Text, nullable=False),
    Column("role_id", Uuid, nullable=False),
    Column("email_verified", Boolean, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("refresh_hash", LargeBinary, nullable=False),
    Column("previous_hash", LargeBinary),
    _ts("rotated_at", nullable=True),
    Column("grace_blob", LargeBinary),
    _ts("created_at"),
    _ts("last_used_at"),
    _ts("expires_at"),
    _ts("revoked_at", nullable=True),
    Column("revoke_reason", Text),
    Column("user_agent", Text),
    Column("ip", Text),
    Column("opened_by", LargeBinary),
    Column("token_seed", LargeBinary),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    _ts("occurred_at"),
    Column("actor_id", Uuid),
    Column("action", Text, nullable=False),
    Column("target_type", Text),
    Column("target_id", Text),
    Column("data", JSONB, nullable=False),
    Column("request_id", Text),
    Column("ip", Text),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("body", JSONB, nullable=False),
    _ts("created_at"),
)

one_time_tokens = Table(
    "one_time_tokens",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("token_hash", LargeBinary, nullable=False),
    _ts("created_at"),
    _ts("expires_at"),
    _ts("used_at", nullable=True),
    Column("used_by", LargeBinary),
)

processed_messages = Table(
    "processed_messages",
    metadata,
    Column("tenant_id", Uuid, primary_key=True),
    Column("user_id", Uuid, primary_key=True),
    Column("message_id", Text, primary_key=True),
    Column("routing_key", Text, nullable=False),
    Column("request_hash", LargeBinary, nullable=False),
    Column("reply", JSONB, nullable=False),
    _ts("created_at"),
)

files = Table(
    "files",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("tenant_id", Uuid, nullable=False),
    Column("object_key", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("created_by", Uuid),
    _ts("created_at"),
    _ts("updated_at"),
    _ts("uploaded_at", nullable=True),
)
