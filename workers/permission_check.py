"""The worker's second RBAC check: the caller's CURRENT role, not the token's claims.

An access token carries the permissions of the role its user held at login, for up to
15 minutes. Writes must follow a demotion or a disabling at once (SPEC 4.4), so the
worker checks the user's current status and role permissions too.

They are cached in Redis, one hash per tenant (``idp:perms:<tenant>``, a field per user),
so the hit path is one ``HMGET``. Every change that affects them (a role assignment, a
role's permissions, a user's status, a deletion) invalidates the field or the whole hash
and replaces the hash's ``_epoch``. A miss reads PostgreSQL in the caller's tenant and
fills the cache only if the epoch it saw before reading is still the current one, so a
reader that raced a change can never write stale permissions back.
"""

import secrets
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from functools import partial
from typing import Any
from uuid import UUID

import orjson
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from idp.security.revocation import RevocationUnavailable
from idp.security.tokens import AccessClaims
from workers.errors import Forbidden, Unauthenticated
from workers.uow import UnitOfWork
from workers.users import repository as users

_EPOCH = "_epoch"
# Fill only if nobody changed the tenant's permissions since the reader looked.
_FILL = """
local current = redis.call('HGET', KEYS[1], '_epoch')
if (current or '') ~= ARGV[1] then return 0 end
if not current then redis.call('HSET', KEYS[1], '_epoch', ARGV[4]) end
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""
_ABSENT = b"{}"


@dataclass(frozen=True, slots=True)
class CurrentAccess:
    """A user's standing right now: None when the account is gone or not active."""

    role: str | None
    permissions: frozenset[str]

    @property
    def active(self) -> bool:
        return self.role is not None


def _key(tenant_id: UUID) -> str:
    return f"idp:perms:{tenant_id}"


class PermissionCheck:
    def __init__(
        self,
        redis: "Redis",
        transaction: Callable[[UUID], AbstractAsyncContextManager[UnitOfWork]],
        ttl_seconds: int,
    ) -> None:
        self._redis = redis
        self._fill = redis.register_script(_FILL)
        self._transaction = transaction
        self._ttl = ttl_seconds

    async def require(self, caller: AccessClaims, permission: str) -> None:
        """401 if the caller is no longer an active user, 403 if their role or their
        token lacks ``permission``."""
        _demand(await self.lookup(caller.tid, caller.sub), permission, caller)

    async def current(self, caller: AccessClaims) -> CurrentAccess:
        """The caller's current role and permissions; 401 if disabled, deleted or invited."""
        return _demand(await self.lookup(caller.tid, caller.sub), None)

    def queue_lookup(self, caller: AccessClaims, pipe: Pipeline) -> None:
        """Queue the cache read of ``caller``'s standing on another check's round trip."""
        pipe.hmget(_key(caller.tid), [str(caller.sub), _EPOCH])

    async def require_from(self, caller: AccessClaims, permission: str, cached: Any) -> None:
        """``require``, given the result of the read ``queue_lookup`` queued."""
        entry, epoch = cached
        _demand(await self._resolve(caller.tid, caller.sub, entry, epoch), permission, caller)

    async def lookup(self, tenant_id: UUID, user_id: UUID) -> CurrentAccess:
        try:
            cached, epoch = await self._redis.hmget(
                _key(tenant_id), [str(user_id), _EPOCH]
            )  # bytes: no decoding
        except (RedisError, OSError) as exc:
            raise RevocationUnavailable(str(exc)) from exc
        return await self._resolve(tenant_id, user_id, cached, epoch)

    async def _resolve(
        self, tenant_id: UUID, user_id: UUID, cached: Any, epoch: Any
    ) -> CurrentAccess:
        """The cached standing, or PostgreSQL's (filling the cache if nobody raced us)."""
        key, field = _key(tenant_id), str(user_id)
        if cached is not None:
            return _decode(_bytes(cached))
        access = await self._load(tenant_id, user_id)
        try:
            await self._fill(
                keys=[key],
                args=[
                    _bytes(epoch or b"").decode(),
                    field,
                    _encode(access),
                    secrets.token_hex(8),
                    self._ttl,
                ],
            )
        except (RedisError, OSError) as exc:
            raise RevocationUnavailable(str(exc)) from exc
        return access

    async def forget_user(self, uow: UnitOfWork, tenant_id: UUID, user_id: UUID) -> None:
        """A user's role or status changes in ``uow``: their next request reads PostgreSQL."""
        await self._forget(uow, tenant_id, str(user_id))

    async def forget_tenant(self, uow: UnitOfWork, tenant_id: UUID) -> None:
        """A role changes in ``uow``: every user of the tenant is read again."""
        await self._forget(uow, tenant_id, None)

    async def _forget(self, uow: UnitOfWork, tenant_id: UUID, field: str | None) -> None:
        # Now, so nothing cached is trusted while the change commits; and again once it
        # has committed (after the whole message's transaction, which may commit well
        # after this statement), so that a reader that loaded the old rows under the new
        # epoch in between cannot leave them cached (SPEC 4.4: at once).
        await self._invalidate(tenant_id, field)
        uow.after_commit(partial(self._invalidate, tenant_id, field))

    async def _invalidate(self, tenant_id: UUID, field: str | None) -> None:
        key = _key(tenant_id)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                if field is None:
                    pipe.delete(key)
                else:
                    pipe.hdel(key, field)
                pipe.hset(key, _EPOCH, secrets.token_hex(8))
                pipe.expire(key, self._ttl)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            raise RevocationUnavailable(str(exc)) from exc

    async def _load(self, tenant_id: UUID, user_id: UUID) -> CurrentAccess:
        async with self._transaction(tenant_id) as uow:
            found = await users.standing(uow, user_id)
        if found is None or found[0] != "active":
            return CurrentAccess(None, frozenset())
        _, role, permissions = found
        return CurrentAccess(role, frozenset(permissions))


def _demand(
    access: CurrentAccess, permission: str | None, caller: AccessClaims | None = None
) -> CurrentAccess:
    """401 if the account is not active; 403 if its role lacks ``permission``, or the
    ``caller``'s token does. The check only ever narrows what the token allows: a
    promotion needs a new token, on routes the edge checks (the action names its
    permission) and on those it cannot (reading oneself needs none, another user
    users:read, which an audit found an old token gaining at once)."""
    if not access.active:
        raise Unauthenticated("account is not active")
    if permission is not None and (
        permission not in access.permissions or (caller and permission not in caller.perms)
    ):
        raise Forbidden("permission denied")
    return access


def _bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else value


def _encode(access: CurrentAccess) -> bytes:
    if not access.active:
        return _ABSENT
    return orjson.dumps({"r": access.role, "p": sorted(access.permissions)})


def _decode(raw: bytes) -> CurrentAccess:
    data = orjson.loads(raw)
    if not data:
        return CurrentAccess(None, frozenset())
    return CurrentAccess(str(data["r"]), frozenset(data["p"]))
