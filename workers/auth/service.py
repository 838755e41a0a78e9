"""Sign-up, login, refresh, logout: the session lifecycle (SPEC 4.3, 4.4); the refresh's
rotation is in ``workers.auth.rotation``."""

import hashlib
import hmac
import uuid
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

import orjson
from sqlalchemy.exc import IntegrityError

from contracts.auth import (
    AUTH_LOGIN,
    AUTH_SIGNUP,
    LoginRequest,
    LoginResult,
    Me,
    RefreshRequest,
    SignupRequest,
)
from contracts.base import MAX_EMAIL_CHARS, escaped
from contracts.permissions import OWNER_ROLE
from idp.security.passwords import PasswordHasher
from idp.security.tokens import TokenCodec, TokenPair
from idp.settings import Settings
from workers.auth import repository as sessions
from workers.auth.opening import Opened, SessionOpener, opening_key
from workers.auth.rotation import RefreshRotation
from workers.auth.session_end import SessionEnder
from workers.auth.throttle import AccountDelayed, Throttle
from workers.context import Call
from workers.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    Unauthenticated,
)
from workers.journal import audit, emit
from workers.password_rules import check_new_password
from workers.roles import repository as roles
from workers.uow import Database
from workers.users import repository as users
from workers.users.repository import UserRecord


def _signup_key(message_id: str | None, request: SignupRequest) -> bytes | None:
    """What makes a sign-up the same one again: its message id and request, without the
    password (stored, this must say nothing about it; the password is checked against
    the owner's hash instead)."""
    if not message_id:
        return None
    parts = (message_id, request.slug, request.name, request.owner.email, request.owner.name)
    return hashlib.sha256(orjson.dumps(["idp signup v1", *parts])).digest()


class AuthService:
    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        hasher: PasswordHasher,
        tokens: TokenCodec,
        ender: SessionEnder,
        throttle: Throttle,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._db = db
        self._hasher = hasher
        self._tokens = tokens
        self._opener = SessionOpener(settings=settings, tokens=tokens)
        self._rotation = RefreshRotation(
            settings=settings, db=db, tokens=tokens, opener=self._opener, ender=ender, clock=clock
        )
        self._ender = ender
        self._throttle = throttle
        self._clock = clock

    async def signup(self, request: SignupRequest, call: Call) -> LoginResult:
        """Create a tenant with its built-in roles and its owner, and log the owner in."""
        if not self._settings.signup_enabled:
            raise Forbidden("sign-up is disabled on this deployment")
        check_new_password(request.owner.password, request.owner.email, "owner.password")
        password_hash = await self._hasher.hash(request.owner.password)
        tenant_id, user_id, now = uuid.uuid4(), uuid.uuid4(), self._clock()
        key = _signup_key(call.message_id, request)
        try:
            async with self._db.transaction(tenant_id) as uow:
                tenant = await users.insert_tenant(
                    uow,
                    tenant_id=tenant_id,
                    slug=request.slug,
                    name=request.name,
                    now=now,
                    signup_key=key,
                )
                role_ids = await roles.insert_builtin_roles(uow, tenant_id, now)
                await users.insert_user(
                    uow,
                    user_id=user_id,
                    tenant_id=tenant_id,
                    email=str(request.owner.email),
                    name=request.owner.name,
                    password_hash=password_hash,
                    status="active",
                    role_id=role_ids[OWNER_ROLE],
                    now=now,
                )
                user = await users.user_by_id(uow, user_id)
                assert user is not None
                audit(
                    uow,
                    call,
                    tenant_id=tenant_id,
                    action="tenant.created",
                    actor_id=user_id,
                    target_type="tenant",
                    target_id=tenant_id,
                )
                emit(
                    uow,
                    tenant_id=tenant_id,
                    event_type="tenant.created",
                    data={"tenant": tenant.model_dump(mode="json")},
                )
                emit(
                    uow,
                    tenant_id=tenant_id,
                    event_type="user.created",
                    data={"user": user.view.model_dump(mode="json")},
                )
                pair = await self._opener.open(
                    uow,
                    user,
                    call.client,
                    now,
                    opening_key(AUTH_SIGNUP.key, user_id, call.message_id),
                )
        except IntegrityError:
            again = await self._signup_again(request, call, key) if key else None
            if again is None:
                raise Conflict("this slug is taken") from None
            return again
        return Opened(user, tenant, pair).result()

    async def _signup_again(
        self, request: SignupRequest, call: Call, key: bytes
    ) -> LoginResult | None:
        """The same sign-up message delivered again (a redelivery, an HTTP retry with the
        same ``Idempotency-Key``): the tenant is not created twice (SPEC 5). Once the
        password checks out, the caller gets what the first delivery gave: the owner
        logged in, in the session it opened, with the same pair signed again (_reopen;
        the first reply's tokens are not stored)."""
        tenant, owner, _ = await users.login_account(self._db, request.slug, request.owner.email)
        if tenant is None or owner is None or owner.view.status != "active":
            return None
        async with self._db.transaction(tenant.id) as uow:
            stored = await users.signup_key_of(uow, tenant.id)
        if stored is None or not hmac.compare_digest(stored, key):
            return None
        if not await self._hasher.verify(owner.password_hash, request.owner.password):
            return None
        opening = opening_key(AUTH_SIGNUP.key, owner.view.id, call.message_id)
        assert opening is not None  # a sign-up key implies a message id
        now = self._clock()
        async with self._db.transaction(tenant.id) as uow:
            pair = await self._opener.reopen(uow, owner, opening, now)
            if pair is None:  # a tenant created before sessions remembered their opening
                pair = await self._opener.open(uow, owner, call.client, now, opening)
        return Opened(owner, tenant, pair).result()

    async def login(self, request: LoginRequest, call: Call) -> LoginResult:
        """Check the credentials; every failure is the same 401 in about the same time.

        The per-address limit runs first (workers.dispatch), the per-account limit before
        the password is checked, both the same way whether or not the tenant and account
        exist (docs/security.md). What the lookup read is read again under the user's row
        lock before a session opens (_open_login), however long the limit made it wait.
        """
        email = str(request.email)
        # Looked up first: the account's limit is keyed on the address as the lookup folds
        # it, so that every spelling finding the account shares its one record.
        tenant, user, email_key = await users.login_account(self._db, request.tenant, email)
        try:
            async with self._throttle.attempt(request.tenant, email_key) as attempt:
                tenant_id = tenant.id if tenant is not None else None
                password_hash = user.password_hash if user else None
                matches = await self._hasher.verify(password_hash, request.password)
                if (
                    user is None
                    or tenant is None
                    or tenant_id is None
                    or not matches
                    or user.view.status != "active"
                ):
                    await attempt.failed()
                    if tenant_id is not None:
                        await self._record_failed_login(tenant_id, user, email, call)
                    raise InvalidCredentials()
                await attempt.succeeded()
        except AccountDelayed as delayed:
            # Refused unchecked: audited too (at most once a minute per account), so
            # that a guessing campaign leaves a trace past its first failures.
            if delayed.report and tenant is not None:
                await self._record_failed_login(tenant.id, user, email, call, throttled=True)
            raise
        rehash = (
            await self._hasher.hash(request.password)
            if user.password_hash and self._hasher.needs_rehash(user.password_hash)
            else None
        )
        key = opening_key(AUTH_LOGIN.key, user.view.id, call.message_id)
        try:
            pair = await self._open_login(tenant_id, user, rehash, key, call)
        except IntegrityError:
            if key is None:
                raise
            # The same message delivered twice at once: the other delivery opened the
            # session (the unique index made this one wait for it), so this one finds it.
            pair = await self._open_login(tenant_id, user, rehash, key, call)
        return Opened(user, tenant, pair).result()

    async def _open_login(
        self,
        tenant_id: UUID,
        user: UserRecord,
        rehash: str | None,
        key: bytes | None,
        call: Call,
    ) -> TokenPair:
        now = self._clock()
        async with self._db.transaction(tenant_id) as uow:
            # The password was checked against a read without a lock. A reset, a change
            # or a disabling that committed since would end every session but miss this
            # one, opened after it looked: the row is share-locked and read again, and
            # anything changed is the same 401 as a wrong password.
            if await users.login_standing(uow, user.view.id) != ("active", user.password_hash):
                raise InvalidCredentials()
            if key is not None and (again := await self._opener.reopen(uow, user, key, now)):
                return again
            if rehash is not None:
                await sessions.set_password(uow, user.view.id, password_hash=rehash, now=now)
            audit(
                uow,
                call,
                tenant_id=tenant_id,
                action="auth.login_succeeded",
                actor_id=user.view.id,
                target_type="user",
                target_id=user.view.id,
            )
            emit(
                uow,
                tenant_id=tenant_id,
                event_type="auth.login_succeeded",
                data={"user_id": str(user.view.id), "ip": call.client.ip},
            )
            return await self._opener.open(uow, user, call.client, now, key)

    async def refresh(self, request: RefreshRequest, call: Call) -> LoginResult:
        """Rotate a refresh token: single use, with a grace window and reuse detection."""
        return await self._rotation.refresh(request, call)

    async def logout(self, call: Call) -> None:
        """End the caller's session: its refresh and access tokens stop working at once."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            await self._ender.end(
                uow,
                call,
                tenant_id=caller.tid,
                session_ids=[caller.sid],
                actor_id=caller.sub,
                reason="logout",
                now=self._clock(),
            )

    async def me(self, call: Call) -> Me:
        caller = call.caller
        found = await users.user_and_tenant_alone(self._db, caller.tid, caller.sub)
        if found is None:
            raise Unauthenticated("account no longer exists")
        user, tenant = found
        return Me(
            user=user.view, tenant=tenant, role=user.view.role, permissions=sorted(user.permissions)
        )

    async def _record_failed_login(
        self,
        tenant_id: UUID,
        user: UserRecord | None,
        email: str,
        call: Call,
        *,
        throttled: bool = False,
    ) -> None:
        """Audit and announce a failure (a refusal by the account's delay is audited
        only); an unknown email costs the same writes. The address of an unknown account
        is anyone's text: recorded escaped and cut (``contracts.base.escaped``), so that
        it cannot mislead a log viewer or a terminal."""
        user_id = user.view.id if user is not None else None
        async with self._db.transaction(tenant_id) as uow:
            audit(
                uow,
                call,
                tenant_id=tenant_id,
                action="auth.login_throttled" if throttled else "auth.login_failed",
                actor_id=None,
                target_type="user",
                target_id=user_id,
                data={}
                if user is not None
                else {"email": escaped(email, MAX_EMAIL_CHARS), "unknown": True},
            )
            if throttled:
                return
            emit(
                uow,
                tenant_id=tenant_id,
                event_type="auth.login_failed",
                data={"user_id": str(user_id) if user_id else None, "ip": call.client.ip},
            )
