"""Password change, reset (which also completes an invitation) and email verification."""

import asyncio
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from contracts.envelope import FieldError
from contracts.models import User
from contracts.sessions import (
    AUTH_PASSWORD_RESET_REQUEST,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    VerifyEmailConfirm,
)
from idp.security.passwords import PasswordHasher
from workers import idempotency
from workers.auth import one_time_tokens
from workers.auth import repository as credentials
from workers.auth.one_time_tokens import SET_PASSWORD_TOKENS, Purpose
from workers.auth.session_end import SessionEnder
from workers.auth.throttle import Throttle
from workers.context import Call
from workers.errors import Conflict, InvalidCredentials, InvalidRequest, Unauthenticated
from workers.journal import audit, emit, timestamp
from workers.password_rules import check_new_password
from workers.uow import Database, UnitOfWork
from workers.users import repository as users
from workers.users.repository import UserRecord

RESET_TOKEN_TTL = timedelta(hours=1)
VERIFY_TOKEN_TTL = timedelta(hours=24)
# A reset request answers no sooner than this, whether or not the account exists, so
# its timing says nothing about the account (the work done is well below it).
RESET_REQUEST_FLOOR_SECONDS = 0.3


def _bad_token() -> InvalidRequest:
    return InvalidRequest(
        "token is invalid, expired or already used",
        details=[FieldError(field="token", message="invalid, expired or already used")],
    )


class PasswordFlows:
    def __init__(
        self,
        *,
        db: Database,
        hasher: PasswordHasher,
        ender: SessionEnder,
        throttle: Throttle,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._hasher = hasher
        self._ender = ender
        self._throttle = throttle
        self._clock = clock

    async def change(self, request: PasswordChange, call: Call) -> None:
        """Check the current password (throttled like a login), set the new one, and end
        every other session of the caller."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            user = await users.user_by_id(uow, caller.sub)
            tenant = await users.get_tenant(uow, caller.tid)
            if user is None or tenant is None or user.view.status != "active":
                raise Unauthenticated("account no longer active")
            email_key = await users.email_key(uow, user.view.email)
        email = user.view.email
        # The same record as the account's logins: guesses here count toward their limit.
        async with self._throttle.attempt(tenant.slug, email_key) as attempt:
            if not await self._hasher.verify(user.password_hash, request.current_password):
                await attempt.failed()
                # Audited like a failed login: whoever holds a session (a stolen access
                # token) could otherwise guess the password without a trace.
                async with self._db.transaction(caller.tid) as uow:
                    audit(
                        uow,
                        call,
                        tenant_id=caller.tid,
                        action="auth.password_change_failed",
                        actor_id=caller.sub,
                        target_type="user",
                        target_id=caller.sub,
                    )
                # SPEC 4: bad credentials are a 401 invalid_credentials, wherever they are;
                # the audit entry stays.
                raise InvalidCredentials("current password is incorrect", keeps_changes=True)
            await attempt.succeeded()
        check_new_password(request.new_password, email, "new_password")
        password_hash = await self._hasher.hash(request.new_password)
        now = self._clock()
        async with self._db.transaction(caller.tid) as uow:
            # The password verified above must still be the account's: two changes from
            # two sessions at once would both pass the check, both end the other's
            # session, and tell one caller 204 for a password that is not kept. Under
            # the row's lock, the later one finds the hash changed and its session ended
            # by the first, as it would one after the other.
            current = (await users.lock_users(uow, [user.view.id])).get(user.view.id)
            if current is None or current.password_hash != user.password_hash:
                raise Unauthenticated("session has ended")
            await credentials.set_password(uow, user.view.id, password_hash=password_hash, now=now)
            await one_time_tokens.void(uow, user.view.id, SET_PASSWORD_TOKENS, now)
            await self._ender.end_all_of_user(
                uow,
                call,
                tenant_id=caller.tid,
                user_id=user.view.id,
                actor_id=user.view.id,
                reason="password_changed",
                now=now,
                keep=caller.sid,
            )
            await self._announce_password_changed(uow, call, user, how="change")

    async def request_reset(self, request: PasswordResetRequest, call: Call) -> None:
        """Always accepted, in the same time; a token goes out only for a real account."""
        started = time.monotonic()
        now = self._clock()
        async with self._db.transaction() as uow:
            tenant_id = await users.tenant_id_by_slug(uow, request.tenant)
            if tenant_id is not None:
                await uow.bind_tenant(tenant_id)
                user = await users.user_by_email(uow, str(request.email))
                if (
                    user is not None
                    and user.view.status in ("active", "invited")
                    and await self._first_time(uow, user, request, call)
                    and await self._throttle.reset_mail_allowed(user.view.id)
                ):
                    await self._send_token(uow, call, user, "password_reset", RESET_TOKEN_TTL, now)
        await asyncio.sleep(max(0.0, RESET_REQUEST_FLOOR_SECONDS - (time.monotonic() - started)))

    @staticmethod
    async def _first_time(
        uow: UnitOfWork, user: UserRecord, request: PasswordResetRequest, call: Call
    ) -> bool:
        """SPEC 5: a re-sent reset request (same message id) sends no second token. It is
        claimed for the account in this transaction, as authenticated writes are; a key
        reused for another request is likewise not applied (and still answered 202)."""
        if call.message_id is None:
            return True
        key = AUTH_PASSWORD_RESET_REQUEST.key
        try:
            replay = await idempotency.claim(
                uow,
                user_id=user.view.id,
                message_id=call.message_id,
                routing_key=key,
                digest=idempotency.request_hash(key, request.model_dump(mode="json")),
            )
        except Conflict:
            return False
        return replay is None

    async def confirm_reset(self, request: PasswordResetConfirm, call: Call) -> None:
        """Set the password with a reset or invitation token; end every session."""
        tenant_id = one_time_tokens.tenant_of(request.token)
        if tenant_id is None:
            raise _bad_token()
        now = self._clock()
        used_by = one_time_tokens.redeemer(call.message_id)
        async with self._db.transaction(tenant_id) as uow:
            # Before the hash: an unthrottled anonymous route must not make the worker
            # hash for any token-shaped string.
            if not await one_time_tokens.usable(
                uow, request.token, SET_PASSWORD_TOKENS, now, used_by
            ):
                raise _bad_token()
        password_hash = await self._hasher.hash(request.new_password)
        async with self._db.transaction(tenant_id) as uow:
            redeemed = await one_time_tokens.redeem(
                uow, request.token, SET_PASSWORD_TOKENS, now, used_by
            )
            if redeemed is None and (
                spender := await one_time_tokens.redeemed_by(
                    uow, request.token, SET_PASSWORD_TOKENS, used_by
                )
            ):
                # This message spent the token already: the same 204 (SPEC 5), if it is
                # the same request, i.e. the password it set is the one given now (only a
                # hash of the message id is kept, never one of the password).
                owner = await users.user_by_id(uow, spender)
                stored = owner.password_hash if owner is not None else None
                if not await self._hasher.verify(stored, request.new_password):
                    raise Conflict(
                        "this message id (Idempotency-Key) was already used for another request"
                    )
                return
            user = await users.user_by_id(uow, redeemed.user_id) if redeemed else None
            if user is None or user.view.status not in ("active", "invited"):
                # A disabled user gets no reset token (request_reset); one sent before the
                # disabling does not set a password either (raising keeps it unspent).
                raise _bad_token()
            # Raising here rolls the redemption back: the token stays usable.
            check_new_password(request.new_password, user.view.email, "new_password")
            invited = user.view.status == "invited"
            await credentials.set_password(
                uow,
                user.view.id,
                password_hash=password_hash,
                now=now,
                activate=invited,
                verify_email=True,  # the token reached this address
            )
            await one_time_tokens.void(uow, user.view.id, SET_PASSWORD_TOKENS, now)
            await self._ender.end_all_of_user(
                uow,
                call,
                tenant_id=tenant_id,
                user_id=user.view.id,
                actor_id=user.view.id,
                reason="password_reset",
                now=now,
            )
            await self._announce_password_changed(
                uow, call, user, how="invitation" if invited else "reset"
            )
            await self._announce_user_updated(uow, user.view)

    async def request_verification(self, call: Call) -> None:
        """Send a verification token (SPEC 4.3: 202, and the event goes out), also for an
        address already verified: confirming it again changes nothing, and a client
        that asks gets the mail it expects."""
        caller = call.caller
        async with self._db.transaction(caller.tid) as uow:
            user = await users.user_by_id(uow, caller.sub)
            now = self._clock()
            if user is None or not await self._send_token(
                uow, call, user, "verify_email", VERIFY_TOKEN_TTL, now
            ):
                raise Unauthenticated("account no longer exists")

    async def confirm_verification(self, request: VerifyEmailConfirm, call: Call) -> None:
        tenant_id = one_time_tokens.tenant_of(request.token)
        if tenant_id is None:
            raise _bad_token()
        now = self._clock()
        used_by = one_time_tokens.redeemer(call.message_id)
        async with self._db.transaction(tenant_id) as uow:
            redeemed = await one_time_tokens.redeem(
                uow, request.token, ("verify_email",), now, used_by
            )
            if redeemed is None:
                if await one_time_tokens.redeemed_by(
                    uow, request.token, ("verify_email",), used_by
                ):
                    return  # this very message verified the address: the same 204
                raise _bad_token()
            before = await users.user_by_id(uow, redeemed.user_id)
            if before is None:
                raise _bad_token()
            await credentials.mark_email_verified(uow, redeemed.user_id, now)
            audit(
                uow,
                call,
                tenant_id=tenant_id,
                action="auth.email_verified",
                actor_id=redeemed.user_id,
                target_type="user",
                target_id=redeemed.user_id,
            )
            await self._announce_user_updated(uow, before.view)

    async def _send_token(
        self,
        uow: UnitOfWork,
        call: Call,
        user: UserRecord,
        purpose: Purpose,
        ttl: timedelta,
        now: datetime,
    ) -> bool:
        """Issue and announce a token; False if the user was deleted meanwhile."""
        tenant_id = user.view.tenant_id
        token = await one_time_tokens.issue(
            uow, tenant_id=tenant_id, user_id=user.view.id, purpose=purpose, ttl=ttl, now=now
        )
        if token is None:
            return False
        event = (
            "auth.password_reset_requested"
            if purpose == "password_reset"
            else "auth.email_verification_requested"
        )
        audit(
            uow,
            call,
            tenant_id=tenant_id,
            action=event,
            actor_id=None if purpose == "password_reset" else user.view.id,
            target_type="user",
            target_id=user.view.id,
        )
        emit(
            uow,
            tenant_id=tenant_id,
            event_type=event,
            data={
                "user_id": str(user.view.id),
                "email": user.view.email,
                "name": user.view.name,
                "token": token,
                "expires_at": timestamp(now + ttl),
            },
        )
        return True

    async def _announce_password_changed(
        self, uow: UnitOfWork, call: Call, user: UserRecord, *, how: str
    ) -> None:
        tenant_id = user.view.tenant_id
        audit(
            uow,
            call,
            tenant_id=tenant_id,
            action="auth.password_changed",
            actor_id=user.view.id,
            target_type="user",
            target_id=user.view.id,
            data={"how": how},
        )
        emit(
            uow,
            tenant_id=tenant_id,
            event_type="auth.password_changed",
            data={"user_id": str(user.view.id), "how": how},
        )

    async def _announce_user_updated(self, uow: UnitOfWork, before: User) -> None:
        """``user.updated`` with what a password set or a verification changed (the status
        of an invited user, ``email_verified``); nothing changed, no event."""
        updated = await users.user_by_id(uow, before.id)
        if updated is None:
            return
        changes = [
            field
            for field in ("status", "email_verified")
            if getattr(before, field) != getattr(updated.view, field)
        ]
        if changes:
            emit(
                uow,
                tenant_id=updated.view.tenant_id,
                event_type="user.updated",
                data={"user": updated.view.model_dump(mode="json"), "changes": changes},
            )
