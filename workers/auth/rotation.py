"""Refresh rotation (SPEC 4.4): each refresh token is spent once for a new pair; within
the grace window its parent gets the same child again; any other spent token ends the
session as reuse."""

from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from contracts.auth import LoginResult, RefreshRequest
from idp.security import grace
from idp.security.tokens import (
    RefreshClaims,
    TokenCodec,
    TokenPair,
    refresh_token_hash,
    remaining,
)
from idp.settings import Settings
from workers.auth import repository as sessions
from workers.auth.opening import Opened, SessionOpener
from workers.auth.session_end import SessionEnder
from workers.context import Call
from workers.errors import RefreshTokenReused, Unauthenticated
from workers.uow import Database


def _rotation_of(
    token: str, presented: bytes, session_id: UUID, pair: TokenPair, call: Call, now: datetime
) -> sessions.Rotation:
    """The rotation that spends ``token`` (whose hash is ``presented``) for ``pair``."""
    return sessions.Rotation(
        new_hash=refresh_token_hash(pair.refresh_token),
        previous_hash=presented,
        grace_blob=grace.seal(token, session_id, pair),
        now=now,
        user_agent=call.client.user_agent,
        ip=call.client.ip,
    )


class RefreshRotation:
    """Spends refresh tokens for new pairs, at most once each."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        tokens: TokenCodec,
        opener: SessionOpener,
        ender: SessionEnder,
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._db = db
        self._tokens = tokens
        self._opener = opener
        self._ender = ender
        self._clock = clock

    async def refresh(self, request: RefreshRequest, call: Call) -> LoginResult:
        """Rotate a refresh token: single use, with a grace window and reuse detection."""
        token = request.refresh_token
        if not token:
            raise Unauthenticated("no refresh token: log in again")
        claims = self._tokens.verify_refresh(token)
        presented = refresh_token_hash(token)
        now = self._clock()
        rotated = await self._rotate_current(token, presented, claims, call, now)
        if rotated is not None:
            return rotated
        # Everything else, under the session's lock: a lost race, grace, reuse, an end.
        async with self._db.transaction(claims.tid) as uow:
            locked = await sessions.lock_session_with_owner(uow, claims.sid)
            if locked is None:
                raise Unauthenticated("session has ended")
            session, owner = locked
            if session.user_id != claims.sub or session.revoked_at is not None:
                raise Unauthenticated("session has ended")
            if session.expires_at <= now:
                raise Unauthenticated("session has expired")
            if presented == session.refresh_hash:
                if owner is None or owner[0].view.status != "active":
                    raise Unauthenticated("session has ended")
                user, tenant = owner
                pair = self._opener.issue(user, claims.sid, session.expires_at)
                rotation = _rotation_of(token, presented, claims.sid, pair, call, now)
                await sessions.rotate(uow, claims.sid, rotation)
                return Opened(user, tenant, pair).result()
            in_grace = (
                presented == session.previous_hash
                and session.rotated_at is not None
                and session.grace_blob is not None
                and now - session.rotated_at
                <= timedelta(seconds=self._settings.refresh_reuse_grace_seconds)
            )
            blob = session.grace_blob if in_grace else None
            child = grace.unseal(token, claims.sid, blob) if blob else None
            if child is not None:
                if owner is None:
                    raise Unauthenticated("session has ended")
                # The child as the rotation issued it, with what it has left now.
                return Opened(*owner, remaining(child, int(now.timestamp()))).result()
            # A spent token outside the grace window: the token family is compromised.
            await self._ender.end(
                uow,
                call,
                tenant_id=claims.tid,
                session_ids=[claims.sid],
                actor_id=claims.sub,
                reason="refresh_token_reused",
                now=now,
            )
        # Reached only on reuse, after the revocation has committed.
        raise RefreshTokenReused()

    async def _rotate_current(
        self, token: str, presented: bytes, claims: RefreshClaims, call: Call, now: datetime
    ) -> LoginResult | None:
        """The usual refresh in two statements and no transaction: read the session
        without a lock, then rotate it only if the presented token is still its current
        one (a compare-and-set). None for anything else, for the locked path to decide:
        a token already rotated (grace or reuse), a parallel refresh that won the
        compare-and-set, an ended or expired session, a user gone or no longer active."""
        found = await sessions.session_and_owner(self._db, claims.tid, claims.sid)
        if found is None:
            return None
        session, owner = found
        if (
            owner is None
            or session.user_id != claims.sub
            or session.revoked_at is not None
            or session.expires_at <= now
            or presented != session.refresh_hash
            or owner[0].view.status != "active"
        ):
            return None
        user, tenant = owner
        pair = self._opener.issue(user, claims.sid, session.expires_at)
        rotation = _rotation_of(token, presented, claims.sid, pair, call, now)
        if not await sessions.rotate_if_current(self._db, claims.tid, claims.sid, rotation):
            return None
        return Opened(user, tenant, pair).result()
