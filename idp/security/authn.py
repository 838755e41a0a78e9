"""Authenticate an access token: signature and claims, then its session's revocation."""

from collections.abc import Callable
from typing import Any

from redis.asyncio.client import Pipeline

from contracts.errors import ErrorCode
from idp.security.revocation import RevocationStore
from idp.security.tokens import AccessClaims, TokenCodec, TokenError


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` value, or None."""
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class SessionEnded(TokenError):
    """A valid token whose session has ended: 401, like any refused token. It carries
    the verified claims, so that a message applied before the session ended can still be
    answered with its stored reply (workers/dispatch.py)."""

    def __init__(self, claims: AccessClaims) -> None:
        super().__init__(ErrorCode.UNAUTHENTICATED, "session has ended")
        self.claims = claims


class Authenticator:
    def __init__(self, codec: TokenCodec, revocations: RevocationStore) -> None:
        self.codec = codec
        self._revocations = revocations

    async def authenticate(self, token: str | None) -> AccessClaims:
        """The claims of a valid, unrevoked access token; raises TokenError otherwise."""
        if token is None:
            raise TokenError(ErrorCode.UNAUTHENTICATED, "authentication required")
        claims = self.codec.verify_access(token)
        if await self._revocations.is_revoked(claims.sid):
            raise SessionEnded(claims)
        return claims

    async def authenticate_with(
        self, token: str | None, also: Callable[[AccessClaims, Pipeline], None]
    ) -> tuple[AccessClaims, list[Any]]:
        """``authenticate``, plus Redis commands queued by ``also`` (given the verified
        claims) in the revocation check's round trip; returns their results too."""
        if token is None:
            raise TokenError(ErrorCode.UNAUTHENTICATED, "authentication required")
        claims = self.codec.verify_access(token)
        revoked, results = await self._revocations.is_revoked_with(
            claims.sid, lambda pipe: also(claims, pipe)
        )
        if revoked:
            raise SessionEnded(claims)
        return claims, results
