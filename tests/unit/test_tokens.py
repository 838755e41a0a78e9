"""Access and refresh tokens: issue, verify, and the attacks SPEC 4.2 rules out."""

import base64
import time
import uuid

import jwt
import orjson
import pytest

from contracts.errors import ErrorCode
from idp.security.tokens import TokenCodec, TokenError, TokenPair
from idp.settings import Settings
from tests.unit.conftest import SECRET_A, SECRET_B, make_settings

USER, TENANT, SESSION = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def _pair(codec: TokenCodec, session_ends_at: int | None = None) -> TokenPair:
    return codec.issue_pair(
        user_id=USER,
        tenant_id=TENANT,
        session_id=SESSION,
        role="admin",
        permissions=("users:read", "audit:read"),
        session_ends_at=session_ends_at or int(time.time()) + 30 * 86400,
    )


def _claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {
        "iss": "idp",
        "aud": "idp",
        "sub": str(USER),
        "tid": str(TENANT),
        "sid": str(SESSION),
        "role": "owner",
        "perms": ["users:read"],
        "jti": "a" * 22,
        "iat": now,
        "nbf": now,
        "exp": now + 900,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _forge(claims: dict[str, object], key: str = SECRET_A, typ: str = "at+jwt") -> str:
    return jwt.encode(claims, key, algorithm="HS256", headers={"typ": typ})


def test_issued_access_token_verifies_with_its_claims(settings: Settings) -> None:
    codec = TokenCodec(settings)
    claims = codec.verify_access(_pair(codec).access_token)
    assert (claims.sub, claims.tid, claims.sid, claims.role) == (USER, TENANT, SESSION, "admin")
    assert claims.perms == frozenset({"users:read", "audit:read"})
    assert claims.exp - claims.iat == 900


def test_access_token_header_and_claims_follow_spec(settings: Settings) -> None:
    token = _pair(TokenCodec(settings)).access_token
    header = jwt.get_unverified_header(token)
    body = jwt.decode(token, options={"verify_signature": False})
    assert header == {"alg": "HS256", "typ": "at+jwt"}
    assert body["perms"] == sorted(body["perms"])
    assert len(base64.urlsafe_b64decode(body["jti"] + "==")) >= 16
    assert body["nbf"] == body["iat"]


def test_refresh_token_never_outlives_the_session(settings: Settings) -> None:
    codec = TokenCodec(settings)
    ends = int(time.time()) + 3600
    pair = _pair(codec, session_ends_at=ends)
    assert codec.verify_refresh(pair.refresh_token).exp == ends
    assert pair.refresh_expires_in <= 3600


def test_access_token_never_outlives_the_session(settings: Settings) -> None:
    """A pair issued 5 min before the session's absolute end: its access token used to
    live 15 min, 10 of them past the end, and nothing on the request path checks the
    end (only revocations). It now stops with the session and says so."""
    codec = TokenCodec(settings)
    ends = int(time.time()) + 300
    pair = _pair(codec, session_ends_at=ends)
    assert codec.verify_access(pair.access_token).exp == ends
    assert 298 <= pair.access_expires_in <= 300
    roomy = _pair(codec)  # far from the end: the full 15 minutes of SPEC 4.2
    claims = codec.verify_access(roomy.access_token)
    assert claims.exp - claims.iat == settings.access_token_ttl == roomy.access_expires_in


def test_refresh_token_is_not_an_access_token_nor_the_reverse(settings: Settings) -> None:
    codec = TokenCodec(settings)
    pair = _pair(codec)
    with pytest.raises(TokenError):
        codec.verify_access(pair.refresh_token)
    with pytest.raises(TokenError):
        codec.verify_refresh(pair.access_token)


def test_refresh_signed_with_access_key_but_refresh_typ_is_refused(settings: Settings) -> None:
    token = _forge(_claims(role=None, perms=None, nbf=None), key=SECRET_A, typ="rt+jwt")
    with pytest.raises(TokenError):
        TokenCodec(settings).verify_refresh(token)


def _none_alg(claims: dict[str, object]) -> str:
    def b64(data: object) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()

    return f"{b64({'alg': 'none', 'typ': 'at+jwt'})}.{b64(claims)}."


@pytest.mark.parametrize(
    ("name", "token"),
    [
        ("alg none", _none_alg(_claims())),
        ("wrong key", _forge(_claims(), key="another-secret-of-sufficient-length-000")),
        ("refresh key", _forge(_claims(), key=SECRET_B)),
        ("wrong aud", _forge(_claims(aud="someone-else"))),
        ("wrong iss", _forge(_claims(iss="evil"))),
        ("missing jti", _forge(_claims(jti=None))),
        ("empty jti", _forge(_claims(jti=""))),
        ("numeric jti", _forge(_claims(jti=12345))),
        ("missing exp", _forge(_claims(exp=None))),
        ("missing sub", _forge(_claims(sub=None))),
        ("not yet valid", _forge(_claims(nbf=int(time.time()) + 3600))),
        ("exp as a string", _forge(_claims(exp=str(int(time.time()) + 600)))),
        ("iat as a string", _forge(_claims(iat=str(int(time.time()))))),
        ("nbf as a string", _forge(_claims(nbf=str(int(time.time()) - 10)))),
        ("wrong typ", _forge(_claims(), typ="JWT")),
        ("no typ", jwt.encode(_claims(), SECRET_A, algorithm="HS256")),
        (
            "HS384",
            jwt.encode(_claims(), SECRET_A * 2, algorithm="HS384", headers={"typ": "at+jwt"}),
        ),
        ("non-uuid sub", _forge(_claims(sub="admin"))),
        ("perms not a list", _forge(_claims(perms="users:read"))),
        ("garbage", "not.a.token"),
        ("empty", ""),
        ("huge", "a" * 5000),
    ],
)
def test_forged_or_malformed_access_tokens_are_refused(
    settings: Settings, name: str, token: str
) -> None:
    with pytest.raises(TokenError) as refused:
        TokenCodec(settings).verify_access(token)
    assert refused.value.code == ErrorCode.UNAUTHENTICATED, name


def test_the_claims_spec_requires_are_enough(settings: Settings) -> None:
    """SPEC 4.2 requires exp iat sub jti aud iss: a token another issuer of the same key
    made without ``nbf`` or with a short ``jti`` is accepted, and its expiry still says so."""
    now = int(time.time())
    claims = TokenCodec(settings).verify_access(_forge(_claims(nbf=None, jti="abc")))
    assert claims.jti == "abc"
    expired = _forge(_claims(nbf=None, iat=now - 1000, exp=now - 100))
    with pytest.raises(TokenError) as refused:
        TokenCodec(settings).verify_access(expired)
    assert refused.value.code == ErrorCode.TOKEN_EXPIRED


def test_expired_token_says_so_beyond_the_leeway(settings: Settings) -> None:
    past = int(time.time()) - 1000
    token = _forge(_claims(iat=past, nbf=past, exp=past + 900))  # expired 100 s ago
    with pytest.raises(TokenError) as refused:
        TokenCodec(settings).verify_access(token)
    assert refused.value.code == ErrorCode.TOKEN_EXPIRED


def test_leeway_is_at_most_thirty_seconds(settings: Settings) -> None:
    codec = TokenCodec(settings)
    now = int(time.time())
    within = _forge(_claims(iat=now - 920, nbf=now - 920, exp=now - 20))
    beyond = _forge(_claims(iat=now - 940, nbf=now - 940, exp=now - 40))
    assert codec.verify_access(within).sub == USER
    with pytest.raises(TokenError):
        codec.verify_access(beyond)


def test_tokens_from_another_deployment_are_refused() -> None:
    ours = TokenCodec(make_settings())
    theirs = TokenCodec(make_settings(jwt_issuer="other-idp"))
    with pytest.raises(TokenError):
        ours.verify_access(_pair(theirs).access_token)


def test_a_remembered_token_still_expires() -> None:
    now = [time.time()]
    codec = TokenCodec(make_settings(), clock=lambda: now[0])
    token = _pair(codec).access_token
    assert codec.verify_access(token).sub == USER
    assert codec.verify_access(token).sub == USER  # the second time from memory
    now[0] += 900 + 31  # past exp and the 30 s leeway
    with pytest.raises(TokenError) as refused:
        codec.verify_access(token)
    assert refused.value.code == ErrorCode.TOKEN_EXPIRED


def test_memory_is_keyed_by_the_exact_token(settings: Settings) -> None:
    codec = TokenCodec(settings)
    token = _pair(codec).access_token
    codec.verify_access(token)
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-2]}AA"
    with pytest.raises(TokenError):
        codec.verify_access(tampered)


def _seeded(codec: TokenCodec, seed: bytes, issued_at: int) -> TokenPair:
    return codec.issue_pair(
        user_id=USER,
        tenant_id=TENANT,
        session_id=SESSION,
        role="admin",
        permissions=("users:read",),
        session_ends_at=issued_at + 30 * 86400,
        issued_at=issued_at,
        seed=seed,
        as_of=issued_at + 5,
    )


def test_a_seed_and_a_time_sign_the_same_pair_again(settings: Settings) -> None:
    """What lets a login delivered twice hand back the pair it issued (SPEC 5)."""
    codec, issued_at = TokenCodec(settings), int(time.time()) - 5
    seed = bytes(range(32))
    first, again = _seeded(codec, seed, issued_at), _seeded(codec, seed, issued_at)
    assert (first.access_token, first.refresh_token) == (again.access_token, again.refresh_token)
    # Lifetimes as of the time asked for, not of issued_at: the pair is 5 s old then.
    assert first.access_expires_in == 895
    assert first.refresh_expires_in == settings.refresh_token_ttl - 5
    # Issued now (no as_of), the full lifetimes, whatever second the clock turns to next.
    fresh = codec.issue_pair(
        user_id=USER,
        tenant_id=TENANT,
        session_id=SESSION,
        role="admin",
        permissions=(),
        session_ends_at=issued_at + 30 * 86400,
        issued_at=issued_at,
    )
    assert (fresh.access_expires_in, fresh.refresh_expires_in) == (
        settings.access_token_ttl,
        settings.refresh_token_ttl,
    )
    access, refresh = (
        codec.verify_access(first.access_token),
        codec.verify_refresh(first.refresh_token),
    )
    assert access.iat == refresh.iat == issued_at
    # The jti values are the seed's two halves, written as secrets.token_urlsafe writes.
    assert base64.urlsafe_b64decode(access.jti + "==") == seed[:16]
    assert base64.urlsafe_b64decode(refresh.jti + "==") == seed[16:]
    other = _seeded(codec, bytes(reversed(range(32))), issued_at)
    assert other.access_token != first.access_token
    assert other.refresh_token != first.refresh_token
    with pytest.raises(ValueError, match="32 bytes"):
        _seeded(codec, seed[:16], issued_at)


def _respellings(token: str) -> list[str]:
    """The same bytes in spellings PyJWT's base64 decoding also takes."""
    header, payload, signature = token.split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    # 43 characters for 32 bytes: the last one carries two unused low bits.
    assert len(signature) % 4 == 3
    last = alphabet.index(signature[-1])
    return [
        token + "=",  # padding
        f"{header}.{payload}.{signature[:-1]}{alphabet[last | 1]}",  # an unused bit set
    ]


def test_a_token_is_taken_in_its_one_canonical_spelling_only(settings: Settings) -> None:
    """A refresh token with "=" added still verified, but its hash matched no stored
    one, and it was taken for a spent token: the session ended as reuse. Every other
    spelling of the same bytes is refused as an invalid token, changing nothing."""
    codec = TokenCodec(settings)
    pair = _pair(codec)
    codec.verify_access(pair.access_token)
    codec.verify_refresh(pair.refresh_token)
    for token, verify in (
        (pair.access_token, codec.verify_access),
        (pair.refresh_token, codec.verify_refresh),
    ):
        for respelled in _respellings(token):
            assert respelled != token
            with pytest.raises(TokenError) as refused:
                verify(respelled)
            assert refused.value.code == ErrorCode.UNAUTHENTICATED, respelled
