"""Authenticate an access token: signature and claims, then its session's revocation."""

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
            raise TokenError(ErrorCode.UNAUTHENTICATED, "session has ended")
        return claims
