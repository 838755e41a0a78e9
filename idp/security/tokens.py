"""Issue and verify the access and refresh JWTs (SPEC 4.2)."""

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import jwt

from contracts.errors import ErrorCode
from idp.settings import Settings

ALGORITHM: Final = "HS256"
ACCESS_TYP: Final = "at+jwt"
REFRESH_TYP: Final = "rt+jwt"
MAX_TOKEN_CHARS: Final = 4096
VERIFIED_CACHE_SIZE: Final = 4096
JTI_BYTES: Final = 16  # SPEC 4.2: at least 128 random bits
# SPEC 4.2's list; ``nbf`` is checked when present (every token issued here has one).
_ACCESS_REQUIRED: Final = ["exp", "iat", "sub", "jti", "aud", "iss"]
_REFRESH_REQUIRED: Final = ["exp", "iat", "sub", "jti", "aud", "iss"]


class TokenError(Exception):
    """A token that must be refused; ``code`` says why, without detail for an attacker."""

    def __init__(self, code: ErrorCode = ErrorCode.UNAUTHENTICATED, message: str = "") -> None:
        super().__init__(message or "invalid token")
        self.code = code


@dataclass(frozen=True, slots=True)
class AccessClaims:
    sub: UUID
    tid: UUID
    sid: UUID
    role: str
    perms: frozenset[str]
    jti: str
    iat: int
    exp: int


@dataclass(frozen=True, slots=True)
class RefreshClaims:
    sub: UUID
    tid: UUID
    sid: UUID
    jti: str
    iat: int
    exp: int


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    access_expires_in: int
    refresh_expires_in: int


def remaining(pair: TokenPair, now: int) -> TokenPair:
    """``pair`` (issued here earlier) with the lifetimes it has left at ``now``, read from
    its own ``exp`` claims. Unverified: only for a pair this service signed and kept."""
    access_exp, refresh_exp = (
        int(jwt.decode(token, options={"verify_signature": False})["exp"])
        for token in (pair.access_token, pair.refresh_token)
    )
    return TokenPair(
        pair.access_token,
        pair.refresh_token,
        max(access_exp - now, 0),
        max(refresh_exp - now, 0),
    )


_BASE64URL: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _canonical(token: str) -> bool:
    """Three segments of unpadded base64url, each in its one canonical spelling. PyJWT
    also takes padding, and a last character whose unused low bits are set, for the same
    bytes: a refresh token respelled so still verified but matched no stored hash, and
    was taken for a spent one, ending its session as reuse."""
    segments = token.split(".")
    if len(segments) != 3:
        return False
    for segment in segments:
        if len(segment) % 4 == 1 or segment.strip(_BASE64URL):
            return False
        padded = segment + "=" * (-len(segment) % 4)
        if base64.urlsafe_b64encode(base64.urlsafe_b64decode(padded)).rstrip(b"=") != (
            segment.encode()
        ):
            return False
    return True


def refresh_token_hash(token: str) -> bytes:
    """Only this digest of a refresh token is stored (SPEC 4.2)."""
    return hashlib.sha256(token.encode()).digest()


class TokenCodec:
    """Signs and verifies both token kinds with their own keys and pinned parameters."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self._access_key = settings.jwt_secret.get_secret_value()
        self._refresh_key = settings.jwt_refresh_secret.get_secret_value()
        self._issuer = settings.jwt_issuer
        self._audience = settings.jwt_audience
        self._access_ttl = settings.access_token_ttl
        self._refresh_ttl = settings.refresh_token_ttl
        self._leeway = settings.jwt_leeway_seconds
        self._clock = clock
        self._jwt = jwt.PyJWT()
        self._verified: dict[str, AccessClaims] = {}

    def issue_pair(
        self,
        *,
        user_id: UUID,
        tenant_id: UUID,
        session_id: UUID,
        role: str,
        permissions: frozenset[str] | tuple[str, ...],
        session_ends_at: int,
        issued_at: int | None = None,
        seed: bytes | None = None,
        as_of: int | None = None,
    ) -> TokenPair:
        """A fresh access and refresh token for one session; neither outlives it.

        SPEC 4.2 gives the access token ``iat`` + 15 min; a pair issued in the session's
        last quarter hour stops at the session's end instead, as the refresh token does:
        an ended session is not checked for on each request (only revoked ones are), so
        a longer access token would keep it alive past ``SESSION_MAX_AGE``.

        With a ``seed`` (32 random bytes) the two ``jti`` values are taken from it instead
        of drawn here, so the same seed, time and claims sign the same pair again: a login
        delivered twice hands back the pair it issued (workers/auth/opening.py) without
        any token stored. The seed alone is no token: signing needs the secrets.

        The lifetimes reported are as of ``as_of`` (default: the issue time, so a pair
        issued now reports the full TTLs); a pair signed again for an earlier
        ``issued_at`` passes the current time and reports what it has left.
        """
        now = int(self._clock()) if issued_at is None else issued_at
        if seed is not None and len(seed) != 2 * JTI_BYTES:
            raise ValueError(f"a token seed is {2 * JTI_BYTES} bytes")
        access_jti, refresh_jti = (
            (_jti(seed[:JTI_BYTES]), _jti(seed[JTI_BYTES:]))
            if seed is not None
            else (secrets.token_urlsafe(JTI_BYTES), secrets.token_urlsafe(JTI_BYTES))
        )
        access_exp = min(now + self._access_ttl, session_ends_at)
        access = self._jwt.encode(
            {
                "iss": self._issuer,
                "aud": self._audience,
                "sub": str(user_id),
                "tid": str(tenant_id),
                "sid": str(session_id),
                "role": role,
                "perms": sorted(permissions),
                "jti": access_jti,
                "iat": now,
                "nbf": now,
                "exp": access_exp,
            },
            self._access_key,
            algorithm=ALGORITHM,
            headers={"typ": ACCESS_TYP},
        )
        refresh_exp = min(now + self._refresh_ttl, session_ends_at)
        refresh = self._jwt.encode(
            {
                "iss": self._issuer,
                "aud": self._audience,
                "sub": str(user_id),
                "tid": str(tenant_id),
                "sid": str(session_id),
                "jti": refresh_jti,
                "iat": now,
                "exp": refresh_exp,
            },
            self._refresh_key,
            algorithm=ALGORITHM,
            headers={"typ": REFRESH_TYP},
        )
        current = now if as_of is None else as_of
        return TokenPair(
            access,
            refresh,
            max(access_exp - current, 0),
            max(refresh_exp - current, 0),
        )

    def verify_access(self, token: str) -> AccessClaims:
        """The claims of a valid access token (signature, typ, aud, iss, times, shape).

        A token verified once is remembered (by its exact text, up to
        ``VERIFIED_CACHE_SIZE`` of them): clients present the same token for up to 15
        minutes, and HMAC verification is the edge's largest single cost per request. A
        remembered token is still refused once past ``exp`` plus the leeway; revocation
        is checked by the caller on every request either way.
        """
        cached = self._verified.get(token)
        if cached is not None:
            if self._clock() > cached.exp + self._leeway:
                self._verified.pop(token, None)
                raise TokenError(ErrorCode.TOKEN_EXPIRED, "token expired")
            return cached
        verified = self._verify_access(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.pop(next(iter(self._verified)))  # the oldest entry
        self._verified[token] = verified
        return verified

    def _verify_access(self, token: str) -> AccessClaims:
        claims = self._decode(token, self._access_key, ACCESS_TYP, _ACCESS_REQUIRED)
        perms = claims.get("perms")
        role = claims.get("role")
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            raise TokenError()
        if not isinstance(role, str):
            raise TokenError()
        return AccessClaims(
            sub=_uuid(claims, "sub"),
            tid=_uuid(claims, "tid"),
            sid=_uuid(claims, "sid"),
            role=role,
            perms=frozenset(perms),
            jti=str(claims["jti"]),
            iat=int(claims["iat"]),
            exp=int(claims["exp"]),
        )

    def verify_refresh(self, token: str) -> RefreshClaims:
        claims = self._decode(token, self._refresh_key, REFRESH_TYP, _REFRESH_REQUIRED)
        return RefreshClaims(
            sub=_uuid(claims, "sub"),
            tid=_uuid(claims, "tid"),
            sid=_uuid(claims, "sid"),
            jti=str(claims["jti"]),
            iat=int(claims["iat"]),
            exp=int(claims["exp"]),
        )

    def _decode(self, token: str, key: str, typ: str, required: list[str]) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_CHARS or not _canonical(token):
            raise TokenError()
        try:
            decoded = self._jwt.decode_complete(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": required, "verify_signature": True},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError(ErrorCode.TOKEN_EXPIRED, "token expired") from None
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise TokenError() from None
        if decoded["header"].get("typ") != typ:
            raise TokenError()
        payload: dict[str, Any] = decoded["payload"]
        if not isinstance(payload.get("jti"), str) or not payload["jti"]:
            raise TokenError()
        # RFC 7519 2: NumericDate is a JSON number; PyJWT also takes a string of digits.
        if not all(_numeric_date(payload.get(name)) for name in ("iat", "exp", "nbf")):
            raise TokenError()
        return payload


def _numeric_date(value: object) -> bool:
    """Absent (a claim the token type does not require), or a number that is not a bool."""
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _jti(random: bytes) -> str:
    """``random`` as ``secrets.token_urlsafe`` writes its bytes: base64url, no padding."""
    return base64.urlsafe_b64encode(random).rstrip(b"=").decode()


def _uuid(claims: dict[str, Any], name: str) -> UUID:
    try:
        return UUID(str(claims[name]))
    except (KeyError, ValueError):
        raise TokenError() from None
