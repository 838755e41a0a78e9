"""Tenant administration of users: create or invite, read, change, delete, assign roles."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from contracts.envelope import FieldError
from contracts.events import RevokeReason
from contracts.models import User
from contracts.permissions import OWNER_ROLE
from contracts.users import (
    CreateUserRequest,
    ListUsersRequest,
    SetRoleRequest,
    UpdateUserRequest,
    UserIdRequest,
    UserPage,
)
from idp.security.passwords import PasswordHasher
from idp.security.tokens import AccessClaims
from idp.settings import Settings
from workers.auth import one_time_tokens
from workers.auth.session_end import SessionEnder
from workers.context import Call
from workers.encoded import Encoded, encode_page
from workers.errors import Conflict, Forbidden, InvalidRequest, NotFound, Unauthenticated
from workers.ids import parse_id
from workers.journal import audit, emit, timestamp
from workers.pagination import decode_cursor, encode_cursor
from workers.password_rules import check_new_password
from workers.permission_check import PermissionCheck
from workers.roles import repository as roles
from workers.roles.guards import require_grantable, require_outranks
from workers.uow import Database, UnitOfWork
from workers.users import repository as users
from workers.users.repository import UserRecord

EMAIL_TAKEN = "a user with this email already exists"


def _unknown_role() -> InvalidRequest:
    return InvalidRequest(
        "unknown role", details=[FieldError(field="role", message="no role of that name")]
    )


class UsersService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        hasher: PasswordHasher,
        ender: SessionEnder,
        permissions: PermissionCheck,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._db = db
        self._hasher = hasher
        self._ender = ender
        self._permissions = permissions
        self._clock = clock

    async def list(self, request: ListUsersRequest, call: Call) -> Encoded[UserPage]:
        """One page of the tenant's users in creation order."""
        after = decode_cursor(request.cursor) if request.cursor else None
        views = await users.list_users(
            self._db,
            call.tenant_id,
            limit=request.limit + 1,
            after=after,
            q=request.q,
            role=request.role,
            status=request.status,
        )
        page = views[: request.limit]
        more = len(views) > request.limit
        cursor = encode_cursor(page[-1]["created_at"], UUID(page[-1]["id"])) if more else None
        return Encoded(encode_page(page, cursor))

    async def create(self, request: CreateUserRequest, call: Call) -> User:
        """Create a user with a password, or invited with a single-use set-password token."""
        caller = call.caller
        actor = await self._permissions.current(caller)
        email = str(request.email)
        password_hash = None
        if request.password is not None:
            check_new_password(request.password, email, "password")
            password_hash = await self._hasher.hash(request.password)
        user_id, now = uuid.uuid4(), self._clock()
        try:
            async with self._db.transaction(caller.tid) as uow:
                role = await roles.role_by_name(uow, request.role, share=True)
                if role is None:
                    raise _unknown_role()
                require_grantable(actor.permissions, role.permissions)
                await users.insert_user(
                    uow,
                    user_id=user_id,
                    tenant_id=caller.tid,
                    email=email,
                    name=request.name,
                    password_hash=password_hash,
                    status="active" if password_hash else "invited",
                    role_id=role.id,
                    now=now,
                )
                view = await self._view(uow, user_id)
                await self._record(uow, call, "user.created", view, {"user": _dump(view)})
                if password_hash is None:
                    await self._invite(uow, call, view, now)
        except IntegrityError:
            # Emails are unique per tenant only; the answer says nothing of other tenants.
            raise Conflict(EMAIL_TAKEN) from None
        return view

    async def get(self, request: UserIdRequest, call: Call) -> User:
        """One user: anyone may read themselves; others need users:read."""
        caller = call.caller
        target_id = parse_id(request.id, "user")
        if target_id == caller.sub:
            await self._permissions.current(caller)
        else:
            await self._permissions.require(caller, "users:read")
        async with self._db.transaction(caller.tid) as uow:
            record = await users.user_by_id(uow, target_id)
        if record is None:
            raise NotFound("user not found")
        return record.view

    async def update(self, request: UpdateUserRequest, call: Call) -> User:
        """Rename, disable or re-enable a user; disabling ends all their sessions."""
        caller = call.caller
        target_id = parse_id(request.id, "user")
        if target_id != caller.sub and "users:write" not in caller.perms:
            # Before the lookup, as on every route a permission guards: a 404 here would
            # tell a caller without the permission which ids exist.
            raise Forbidden("permission denied")
        now = self._clock()
        async with self._db.transaction(caller.tid) as uow:
            held, target = await self._lock_with_actor(uow, caller, target_id, "users:write")
            if target_id != caller.sub and "users:write" not in held:
                raise Forbidden("permission denied")
            changes: dict[str, Any] = {}
            if request.name is not None and request.name != target.view.name:
                changes["name"] = request.name
            if request.status is not None and request.status != target.view.status:
                # Self may change its own name only; a form that sends the unchanged
                # status along is still just a rename.
                if "users:write" not in held:
                    raise Forbidden("permission denied")
                if target.view.status == "invited":
                    raise Conflict("the invitation is pending; delete the user to withdraw it")
                if request.status == "disabled":
                    await self._keep_an_owner(uow, target)
                require_outranks(held, target.permissions)
                changes["status"] = request.status
            if not changes:
                return target.view
            await users.update_user(uow, target_id, now, **changes)
            if changes.get("status") == "disabled":
                await self._cut_off(uow, call, target, "user_disabled", now)  # forgets too
            elif "status" in changes:
                await self._permissions.forget_user(uow, caller.tid, target_id)
            view = await self._view(uow, target_id)
            await self._record(
                uow, call, "user.updated", view, {"user": _dump(view), "changes": sorted(changes)}
            )
        return view

    async def delete(self, request: UserIdRequest, call: Call) -> None:
        """Delete a user and end their sessions; their files stay with the tenant."""
        caller = call.caller
        target_id = parse_id(request.id, "user")
        now = self._clock()
        async with self._db.transaction(caller.tid) as uow:
            held, target = await self._lock_with_actor(uow, caller, target_id)
            if "users:delete" not in held:
                raise Forbidden("permission denied")
            await self._keep_an_owner(uow, target)
            require_outranks(held, target.permissions)
            await self._cut_off(uow, call, target, "user_deleted", now)
            await users.delete_user(uow, target_id)
            await self._record(
                uow,
                call,
                "user.deleted",
                target.view,
                {"user_id": str(target_id), "email": target.view.email},
            )

    async def set_role(self, request: SetRoleRequest, call: Call) -> User:
        """Give a user another role, within what the caller may grant."""
        caller = call.caller
        target_id = parse_id(request.id, "user")
        async with self._db.transaction(caller.tid) as uow:
            held, target = await self._lock_with_actor(uow, caller, target_id)
            if "roles:assign" not in held:
                raise Forbidden("permission denied")
            role = await roles.role_by_name(uow, request.role, share=True)
            if role is None:
                raise _unknown_role()
            require_grantable(held, role.permissions)
            if role.id != target.role_id:
                await self._keep_an_owner(uow, target)
            require_outranks(held, target.permissions)
            if role.id == target.role_id:
                return target.view
            await users.update_user(uow, target_id, self._clock(), role_id=role.id)
            await self._permissions.forget_user(uow, caller.tid, target_id)
            view = await self._view(uow, target_id)
            change = {"user_id": str(target_id), "from": target.view.role, "to": role.name}
            await self._record(uow, call, "user.role_changed", view, change)
        return view

    async def _lock_with_actor(
        self,
        uow: UnitOfWork,
        caller: AccessClaims,
        target_id: UUID,
        needed_for_others: str | None = None,
    ) -> tuple[frozenset[str], UserRecord]:
        """The caller's permissions as committed now and the target, both rows locked (in
        id order). Checking a change against the caller's standing read before the lock
        let two admins demote each other at the same moment, each with the right the
        other was taking away; now the second waits and finds it gone (SPEC 4.4)."""
        locked = await users.lock_users(uow, [caller.sub, target_id])
        actor = locked.get(caller.sub)
        if actor is None or actor.view.status != "active":
            raise Unauthenticated("account is no longer active")
        lacking = needed_for_others and needed_for_others not in actor.permissions
        if lacking and target_id != caller.sub:
            # Before "not found": whether the id exists is not for this caller to learn.
            raise Forbidden("permission denied")
        target = locked.get(target_id)
        if target is None:
            raise NotFound("user not found")
        return frozenset(actor.permissions), target

    async def _view(self, uow: UnitOfWork, user_id: UUID) -> User:
        record = await users.user_by_id(uow, user_id)
        assert record is not None
        return record.view

    async def _keep_an_owner(self, uow: UnitOfWork, target: UserRecord) -> None:
        """The last active owner cannot be demoted, disabled or deleted (SPEC 4.3).

        Checked before who may touch the target (``require_outranks``): whoever asks,
        the last owner's answer is 409, the one SPEC names."""
        if target.view.role != OWNER_ROLE or target.view.status != "active":
            return
        # Every change that can remove an owner locks the owner role first, so two owners
        # demoting each other at the same moment cannot leave the tenant with none.
        owner = await roles.role_by_name(uow, OWNER_ROLE, lock=True)
        assert owner is not None
        if await users.count_active_holders(uow, owner.id, except_user=target.view.id) == 0:
            raise Conflict("the last owner cannot be demoted, disabled or deleted")

    async def _cut_off(
        self, uow: UnitOfWork, call: Call, target: UserRecord, reason: RevokeReason, now: datetime
    ) -> None:
        """End every session (access tokens stop within 1 s), void the reset, invitation
        and verification mails not yet used (a disabled account is often a compromised
        one: re-enabling it must not revive a link sent before), and drop cached
        permissions."""
        await one_time_tokens.void(uow, target.view.id, one_time_tokens.EVERY_PURPOSE, now)
        await self._ender.end_all_of_user(
            uow,
            call,
            tenant_id=call.tenant_id,
            user_id=target.view.id,
            actor_id=call.caller.sub,
            reason=reason,
            now=now,
        )
        await self._permissions.forget_user(uow, call.tenant_id, target.view.id)

    async def _invite(self, uow: UnitOfWork, call: Call, view: User, now: datetime) -> None:
        ttl = timedelta(seconds=self._settings.invite_ttl_seconds)
        token = await one_time_tokens.issue(
            uow, tenant_id=view.tenant_id, user_id=view.id, purpose="invite", ttl=ttl, now=now
        )
        assert token is not None  # the user was inserted in this very transaction
        audit(
            uow,
            call,
            tenant_id=view.tenant_id,
            action="user.invited",
            actor_id=call.caller.sub,
            target_type="user",
            target_id=view.id,
            data={"email": view.email},
        )
        emit(
            uow,
            tenant_id=view.tenant_id,
            event_type="user.invited",
            data={
                "user": _dump(view),
                "token": token,
                "expires_at": timestamp(now + ttl),
                "invited_by": str(call.caller.sub),
            },
        )

    async def _record(
        self, uow: UnitOfWork, call: Call, action: str, view: User, data: dict[str, Any]
    ) -> None:
        """The audit entry and the event of one change, in its transaction."""
        summary = {k: v for k, v in data.items() if k != "user"}
        summary.setdefault("email", view.email)
        audit(
            uow,
            call,
            tenant_id=view.tenant_id,
            action=action,
            actor_id=call.caller.sub,
            target_type="user",
            target_id=view.id,
            data=summary,
        )
        emit(uow, tenant_id=view.tenant_id, event_type=action, data=data)


def _dump(view: User) -> dict[str, Any]:
    return view.model_dump(mode="json")
