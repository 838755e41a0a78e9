"""Opening a session and signing its pairs: what sign-up, login and refresh share."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

import orjson

from contracts.auth import LoginResult
from contracts.models import Tenant
from idp.security.tokens import JTI_BYTES, TokenCodec, TokenPair, refresh_token_hash
from idp.settings import Settings
from workers.auth import repository as sessions
from workers.context import Client
from workers.errors import Conflict
from workers.journal import emit
from workers.uow import UnitOfWork
from workers.users.repository import UserRecord


@dataclass(frozen=True, slots=True)
class Opened:
    user: UserRecord
    tenant: Tenant
    pair: TokenPair

    def result(self) -> LoginResult:
        return LoginResult(
            user=self.user.view,
            tenant=self.tenant,
            expires_in=self.pair.access_expires_in,
            access_token=self.pair.access_token,
            refresh_token=self.pair.refresh_token,
            refresh_expires_in=self.pair.refresh_expires_in,
        )


def opening_key(action: str, user_id: UUID, message_id: str | None) -> bytes | None:
    """What makes a login (or a sign-up's first session) the same one again: the user and
    the id of the message that opened it. None without a message id."""
    if not message_id:
        return None
    # The action too: a login under the message id of the sign-up is another message.
    return hashlib.sha256(
        orjson.dumps(["idp session v1", action, str(user_id), message_id])
    ).digest()


class SessionOpener:
    def __init__(self, *, settings: Settings, tokens: TokenCodec) -> None:
        self._settings = settings
        self._tokens = tokens

    async def open(
        self,
        uow: UnitOfWork,
        user: UserRecord,
        client: Client,
        now: datetime,
        opened_by: bytes | None,
    ) -> TokenPair:
        """A new session and its first pair; with ``opened_by`` (the opening message, see
        opening_key) the pair's ``jti`` values come from a stored seed, so that a second
        delivery of the message gets the same pair back (reopen)."""
        session_id = uuid.uuid4()
        expires_at = now + timedelta(seconds=self._settings.session_max_age)
        seed = secrets.token_bytes(2 * JTI_BYTES) if opened_by is not None else None
        pair = self.issue(user, session_id, expires_at, issued_at=int(now.timestamp()), seed=seed)
        await sessions.insert_session(
            uow,
            session_id=session_id,
            tenant_id=user.view.tenant_id,
            user_id=user.view.id,
            refresh_hash=refresh_token_hash(pair.refresh_token),
            now=now,
            expires_at=expires_at,
            user_agent=client.user_agent,
            ip=client.ip,
            opened_by=opened_by,
            token_seed=seed,
        )
        emit(
            uow,
            tenant_id=user.view.tenant_id,
            event_type="session.created",
            data={"session_id": str(session_id), "user_id": str(user.view.id)},
        )
        return pair

    async def reopen(
        self, uow: UnitOfWork, user: UserRecord, key: bytes, now: datetime
    ) -> TokenPair | None:
        """The pair this message's first delivery issued, signed again from its session's
        seed (SPEC 5: a message is not applied twice); None if it opened no session.

        Only while that pair is still the session's current one and its access token
        lives (``expires_in`` then says how long it has left): once its refresh token was
        spent or the session ended, the first reply evidently arrived and was used, and
        handing its spent token back would trip reuse detection; once its access token has
        expired, it is no retry any more. Both are a 409.
        """
        opened = await sessions.session_opened_by(uow, user.view.id, key)
        if opened is None:
            return None
        pair = self.issue(
            user,
            opened.id,
            opened.expires_at,
            issued_at=int(opened.created_at.timestamp()),
            seed=opened.token_seed,
            as_of=int(now.timestamp()),
        )
        access_ends = opened.created_at + timedelta(seconds=self._settings.access_token_ttl)
        if (
            opened.revoked_at is not None
            or opened.expires_at <= now
            or access_ends <= now  # its access token has expired: not worth handing back
            or not hmac.compare_digest(refresh_token_hash(pair.refresh_token), opened.refresh_hash)
        ):
            raise Conflict(
                "this message id already opened a session, which has moved on since;"
                " log in with a new message id"
            )
        return pair

    def issue(
        self,
        user: UserRecord,
        session_id: UUID,
        session_ends_at: datetime,
        *,
        issued_at: int | None = None,
        seed: bytes | None = None,
        as_of: int | None = None,
    ) -> TokenPair:
        """A pair for ``user`` in session ``session_id``, with their current role."""
        return self._tokens.issue_pair(
            user_id=user.view.id,
            tenant_id=user.view.tenant_id,
            session_id=session_id,
            role=user.view.role,
            permissions=user.permissions,
            session_ends_at=int(session_ends_at.timestamp()),
            issued_at=issued_at,
            seed=seed,
            as_of=as_of,
        )
