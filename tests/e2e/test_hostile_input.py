"""Forged tokens and malformed requests: always a 4xx in the error shape, never a 500."""

import base64
import io
import os
import time
import uuid
from collections.abc import AsyncIterator

import aiohttp
import jwt
import orjson
import pytest

from tests.e2e.conftest import assert_error, bearer, signup


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode()


def _forged(kind: str, real: dict[str, object]) -> str:
    access = str(real["access_token"])
    claims = jwt.decode(access, options={"verify_signature": False})
    secret = os.environ["JWT_SECRET"]
    now = int(time.time())
    match kind:
        case "alg none":
            return f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{_b64(claims)}."
        case "wrong key":
            return jwt.encode(claims, "x" * 40, algorithm="HS256", headers={"typ": "at+jwt"})
        case "expired":
            stale = {**claims, "iat": now - 2000, "nbf": now - 2000, "exp": now - 1000}
            return jwt.encode(stale, secret, algorithm="HS256", headers={"typ": "at+jwt"})
        case "wrong aud":
            return jwt.encode(
                {**claims, "aud": "other"}, secret, algorithm="HS256", headers={"typ": "at+jwt"}
            )
        case "wrong iss":
            return jwt.encode(
                {**claims, "iss": "other"}, secret, algorithm="HS256", headers={"typ": "at+jwt"}
            )
        case "missing jti":
            bare = {k: v for k, v in claims.items() if k != "jti"}
            return jwt.encode(bare, secret, algorithm="HS256", headers={"typ": "at+jwt"})
        case "refresh as access":
            return str(real["refresh_token"])
        case "another tenant":
            return jwt.encode(
                {**claims, "tid": str(uuid.uuid4())},
                "y" * 40,
                algorithm="HS256",
                headers={"typ": "at+jwt"},
            )
        case "garbage":
            return "garbage.garbage.garbage"
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "alg none",
        "wrong key",
        "expired",
        "wrong aud",
        "wrong iss",
        "missing jti",
        "refresh as access",
        "another tenant",
        "garbage",
    ],
)
async def test_forged_tokens_are_401(http: aiohttp.ClientSession, kind: str) -> None:
    real = await signup(http)
    async with http.get("/v1/auth/me", headers=bearer(_forged(kind, real))) as response:
        error = await assert_error(response, 401)
    assert error["code"] in {"unauthenticated", "token_expired"}
    if kind == "expired":
        assert error["code"] == "token_expired"


async def test_no_token_is_401(http: aiohttp.ClientSession) -> None:
    async with http.get("/v1/auth/me") as response:
        await assert_error(response, 401, "unauthenticated")
    async with http.get("/v1/auth/me", headers={"Authorization": "Basic Zm9vOmJhcg=="}) as response:
        await assert_error(response, 401, "unauthenticated")


@pytest.mark.parametrize(
    "body", [None, {}, {"refresh_token": ""}, {"refresh_token": None}], ids=repr
)
async def test_a_refresh_with_no_token_is_401(
    http: aiohttp.ClientSession, body: dict[str, object] | None
) -> None:
    """No token in the body and no cookie (a client after logout): log in again."""
    async with http.post("/v1/auth/refresh", json=body) as response:
        await assert_error(response, 401, "unauthenticated")
    # A token of the wrong type is malformed input, not a missing token.
    async with http.post("/v1/auth/refresh", json={"refresh_token": 5}) as response:
        await assert_error(response, 400, "invalid_request")


async def test_a_20_kb_header_is_refused_in_the_error_shape(http: aiohttp.ClientSession) -> None:
    async with http.get("/v1/auth/me", headers=bearer("a" * 20_000)) as response:
        assert response.status in {400, 401, 431}
        await assert_error(response, response.status)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"tenant": "acme", "email": 5, "password": []}', "application/json"),
        (b'["a", "list"]', "application/json"),
        (b'{"tenant": "acme", "email": "\xff\xfe@x.com", "password": "p"}', "application/json"),
        (b"\xc3\x28\xa0\xa1", "application/json"),
        (b'{"tenant": "acme"}', "text/plain"),
        # Nested as deep as orjson parses (1,024 levels): past the interpreter's
        # recursion limit, which must not turn into a 500.
        (
            b'{"tenant": ' + b"[" * 1000 + b"]" * 1000 + b', "email": "a@b.io", "password": "p"}',
            "application/json",
        ),
        (b'{"password": ' + b'{"a": ' * 1020 + b"1" + b"}" * 1020 + b"}", "application/json"),
    ],
)
async def test_malformed_bodies_are_400(
    http: aiohttp.ClientSession, body: bytes, content_type: str
) -> None:
    async with http.post(
        "/v1/auth/login", data=body, headers={"Content-Type": content_type}
    ) as response:
        await assert_error(response, 400, "invalid_request")


async def test_validation_errors_list_the_fields(http: aiohttp.ClientSession) -> None:
    body = {"slug": "Not A Slug", "name": "", "owner": {"email": "nope", "password": "x"}}
    async with http.post("/v1/tenants", json=body) as response:
        error = await assert_error(response, 400, "invalid_request")
    fields = {d["field"] for d in error["details"]}
    assert {"slug", "name", "owner.email", "owner.password", "owner.name"} <= fields


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_2_mib_body_is_413(http: aiohttp.ClientSession, chunked: bool) -> None:
    body = b'{"tenant": "' + b"a" * (2 * 1024 * 1024) + b'"}'

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    data = chunks() if chunked else io.BytesIO(body)
    async with http.post(
        "/v1/auth/login", data=data, headers={"Content-Type": "application/json"}
    ) as response:
        await assert_error(response, 413, "payload_too_large")


async def test_unknown_route_and_wrong_method(http: aiohttp.ClientSession) -> None:
    async with http.get("/v1/nothing-here") as response:
        await assert_error(response, 404, "not_found")
    async with http.delete("/v1/auth/login") as response:
        await assert_error(response, 405)


async def test_request_id_is_echoed_or_generated(http: aiohttp.ClientSession) -> None:
    async with http.get("/healthz", headers={"X-Request-ID": "trace-me-123"}) as response:
        assert response.status == 200
        assert response.headers["X-Request-ID"] == "trace-me-123"
    async with http.get("/healthz") as response:
        assert uuid.UUID(response.headers["X-Request-ID"])
