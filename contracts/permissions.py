"""The fixed permission catalogue and the built-in roles (SPEC 4.3)."""

from typing import Final

PERMISSIONS: Final[tuple[str, ...]] = (
    "tenant:read",
    "tenant:manage",
    "users:read",
    "users:write",
    "users:delete",
    "roles:read",
    "roles:write",
    "roles:assign",
    "sessions:read",
    "sessions:revoke",
    "files:read",
    "files:write",
    "files:delete",
    "audit:read",
)

BUILTIN_ROLES: Final[dict[str, tuple[str, ...]]] = {
    "owner": PERMISSIONS,
    "admin": tuple(p for p in PERMISSIONS if p != "tenant:manage"),
    "member": ("tenant:read", "users:read", "roles:read", "files:read", "files:write"),
}

OWNER_ROLE: Final = "owner"
