"""Seal a rotated token pair under a key only the parent refresh token can derive (SPEC 4.4).

Within the grace window the parent token may be presented again and must get the same
child pair; storing that pair in the clear would let anyone who reads the database use
it. It is kept encrypted with AES-256-GCM under HMAC-SHA256(parent token), bound to the
session id, so the database and Redis hold nothing usable on their own.
"""

import hashlib
import hmac
import os
from uuid import UUID

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from idp.security.tokens import TokenPair

_CONTEXT = b"idp refresh grace v1"


def _key(parent_token: str) -> bytes:
    return hmac.new(parent_token.encode(), _CONTEXT, hashlib.sha256).digest()


def seal(parent_token: str, session_id: UUID, pair: TokenPair) -> bytes:
    nonce = os.urandom(12)
    plain = orjson.dumps(
        [pair.access_token, pair.refresh_token, pair.access_expires_in, pair.refresh_expires_in]
    )
    return nonce + AESGCM(_key(parent_token)).encrypt(nonce, plain, session_id.bytes)


def unseal(parent_token: str, session_id: UUID, blob: bytes) -> TokenPair | None:
    """The sealed pair, or None if ``parent_token`` is not the one that sealed it."""
    try:
        plain = AESGCM(_key(parent_token)).decrypt(blob[:12], blob[12:], session_id.bytes)
    except (InvalidTag, ValueError):
        return None
    access, refresh, access_ttl, refresh_ttl = orjson.loads(plain)
    return TokenPair(access, refresh, access_ttl, refresh_ttl)
