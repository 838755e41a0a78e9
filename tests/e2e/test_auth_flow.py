"""Sign-up, login (cookie and bearer), me, refresh, logout, through real processes."""

import asyncio
from http.cookies import SimpleCookie
from typing import Any

import aiohttp

from tests.e2e.conftest import PASSWORD, assert_error, bearer, signup
from tests.support.platform import Platform


def _cookies(response: aiohttp.ClientResponse) -> dict[str, Any]:
    jar: dict[str, Any] = {}
    for header in response.headers.getall("Set-Cookie", []):
        cookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            jar[name] = (morsel, header)
    return jar


async def _login(
    http: aiohttp.ClientSession, slug: str, email: str, **kw: Any
) -> aiohttp.ClientResponse:
    return await http.post(
        "/v1/auth/login", json={"tenant": slug, "email": email, "password": PASSWORD}, **kw
    )


async def test_signup_in_bearer_mode_returns_tokens_and_me_answers(
    http: aiohttp.ClientSession,
) -> None:
    result = await signup(http)
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 900
    assert result["user"]["role"] == "owner"
    assert result["user"]["status"] == "active"
    async with http.get("/v1/auth/me", headers=bearer(result["access_token"])) as response:
        assert response.status == 200
        me = await response.json()
    assert me["user"]["id"] == result["user"]["id"]
    assert me["tenant"]["slug"] == result["tenant"]["slug"]
    assert me["role"] == "owner"
    assert len(me["permissions"]) == 14
    assert me["permissions"] == sorted(me["permissions"])


async def test_a_taken_slug_is_a_conflict(http: aiohttp.ClientSession) -> None:
    first = await signup(http)
    body = {
        "slug": first["tenant"]["slug"],
        "name": "Other",
        "owner": {"email": "x@example.com", "password": PASSWORD, "name": "X"},
    }
    async with http.post("/v1/tenants", json=body) as response:
        await assert_error(response, 409, "conflict")


async def test_cookie_login_sets_exactly_the_spec_cookies_and_no_tokens_in_body(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await signup(http)
    async with await _login(http, tenant["tenant"]["slug"], "owner@example.com") as response:
        assert response.status == 200
        body = await response.json()
        cookies = _cookies(response)
    assert "access_token" not in body
    assert "refresh_token" not in body
    assert set(cookies) == {"__Host-idp_access", "__Secure-idp_refresh"}
    access, access_header = cookies["__Host-idp_access"]
    refresh, refresh_header = cookies["__Secure-idp_refresh"]
    assert access["path"] == "/"
    assert access["max-age"] == "900"
    assert access["samesite"] == "Lax"
    assert access["httponly"]
    assert access["secure"]
    assert "Domain" not in access_header
    assert refresh["path"] == "/v1/auth"
    assert refresh["max-age"] == str(7 * 24 * 3600)
    assert refresh["samesite"] == "Strict"
    assert refresh["httponly"]
    assert refresh["secure"]
    assert "Domain" not in refresh_header


async def test_cookie_session_me_refresh_and_logout_with_csrf(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    tenant = await signup(http)
    async with await _login(http, tenant["tenant"]["slug"], "owner@example.com") as response:
        cookies = _cookies(response)
    access = cookies["__Host-idp_access"][0].value
    refresh = cookies["__Secure-idp_refresh"][0].value
    async with http.get("/v1/auth/me", headers={"Cookie": f"__Host-idp_access={access}"}) as r:
        assert r.status == 200
    cross_site = {"Cookie": f"__Secure-idp_refresh={refresh}", "Origin": "https://evil.example"}
    look_alike = {
        "Cookie": f"__Secure-idp_refresh={refresh}",
        "Origin": platform.url.replace("127.0.0.1", "127.0.0.1.evil.example"),
    }
    async with http.post("/v1/auth/refresh", headers=look_alike) as r:
        await assert_error(r, 403, "csrf_rejected")
    async with http.post("/v1/auth/refresh", headers=cross_site) as r:
        await assert_error(r, 403, "csrf_rejected")
    # The edge's own origin by another name (localhost) is the same site: Host matches.
    same_site = {
        "Cookie": f"__Secure-idp_refresh={refresh}",
        "Origin": platform.url.replace("127.0.0.1", "localhost"),
        "Host": platform.url.removeprefix("http://").replace("127.0.0.1", "localhost"),
    }
    async with http.post("/v1/auth/refresh", headers=same_site) as r:
        assert r.status == 200
        rotated = _cookies(r)
    new_access = rotated["__Host-idp_access"][0].value
    assert new_access != access
    async with http.post(
        "/v1/auth/logout", headers={"Cookie": f"__Host-idp_access={new_access}"}
    ) as r:
        await assert_error(r, 403, "csrf_rejected")
    headers = {"Cookie": f"__Host-idp_access={new_access}", "Referer": f"{platform.url}/app"}
    async with http.post("/v1/auth/logout", headers=headers) as r:
        assert r.status == 204
        cleared = _cookies(r)
    assert cleared["__Host-idp_access"][0]["max-age"] == "0"
    assert cleared["__Secure-idp_refresh"][0]["max-age"] == "0"
    async with http.get("/v1/auth/me", headers={"Cookie": f"__Host-idp_access={new_access}"}) as r:
        await assert_error(r, 401, "unauthenticated")


async def _cookie_session(http: aiohttp.ClientSession, slug: str) -> tuple[str, str]:
    """A cookie-mode login: the access and the refresh cookie's values."""
    async with await _login(http, slug, "owner@example.com") as response:
        assert response.status == 200
        cookies = _cookies(response)
    return cookies["__Host-idp_access"][0].value, cookies["__Secure-idp_refresh"][0].value


async def test_a_logout_with_only_the_refresh_cookie_ends_the_session(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """SPEC 4.3 logout, for a browser idle past the access cookie's 15 minutes: it still
    holds the refresh cookie (HttpOnly: no script can delete it), and the logout ends the
    session and clears both cookies instead of a 401 that leaves the session alive."""
    tenant = await signup(http)
    slug = tenant["tenant"]["slug"]
    access, refresh = await _cookie_session(http, slug)
    other_access, _ = await _cookie_session(http, slug)
    own = {"Cookie": f"__Secure-idp_refresh={refresh}", "Origin": platform.url}
    cross_site = {**own, "Origin": "https://evil.example"}
    async with http.post("/v1/auth/logout", headers=cross_site) as r:
        await assert_error(r, 403, "csrf_rejected")
    async with http.post("/v1/auth/logout", headers=own) as r:
        assert r.status == 204, await r.text()
        cleared = _cookies(r)
    assert cleared["__Host-idp_access"][0]["max-age"] == "0"
    assert cleared["__Secure-idp_refresh"][0]["max-age"] == "0"
    async with http.post("/v1/auth/refresh", headers=own) as r:
        await assert_error(r, 401)
    async with http.get("/v1/auth/me", headers={"Cookie": f"__Host-idp_access={access}"}) as r:
        await assert_error(r, 401, "unauthenticated")
    # Only that session: the other login is untouched.
    headers = {"Cookie": f"__Host-idp_access={other_access}"}
    async with http.get("/v1/auth/me", headers=headers) as r:
        assert r.status == 200

    # logout-all the same way ends every session of the user.
    _, refresh = await _cookie_session(http, slug)
    own = {"Cookie": f"__Secure-idp_refresh={refresh}", "Origin": platform.url}
    async with http.post("/v1/auth/logout-all", headers=own) as r:
        assert r.status == 204, await r.text()
    async with http.get("/v1/auth/me", headers=headers) as r:
        await assert_error(r, 401, "unauthenticated")

    # Nothing usable: still a 401, and the stale cookies are cleared all the same.
    for cookie in (f"__Secure-idp_refresh={refresh}", "__Host-idp_access=stale"):
        async with http.post(
            "/v1/auth/logout", headers={"Cookie": cookie, "Origin": platform.url}
        ) as r:
            await assert_error(r, 401)
            assert any(m["max-age"] == "0" for m, _ in _cookies(r).values()), r.headers


async def test_a_cookie_session_is_not_turned_into_bearer_tokens(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """SPEC 4.1: in cookie mode tokens travel only as cookies. A refresh that takes its
    token from the HttpOnly cookie answers with cookies even under X-Auth-Mode: bearer, so
    a script cannot read the session's tokens that way."""
    tenant = await signup(http)
    _, refresh = await _cookie_session(http, tenant["tenant"]["slug"])
    headers = {
        "Cookie": f"__Secure-idp_refresh={refresh}",
        "Origin": platform.url,
        "X-Auth-Mode": "bearer",
    }
    async with http.post("/v1/auth/refresh", headers=headers) as r:
        assert r.status == 200
        body = await r.json()
        rotated = _cookies(r)
    assert not {"access_token", "refresh_token", "refresh_expires_in"} & set(body)
    assert rotated["__Secure-idp_refresh"][0].value not in ("", refresh)
    assert rotated["__Host-idp_access"][0].value


async def test_every_login_failure_is_the_same_401(http: aiohttp.ClientSession) -> None:
    tenant = await signup(http)
    slug = tenant["tenant"]["slug"]
    attempts = [
        {"tenant": "no-such-tenant-xyz", "email": "owner@example.com", "password": PASSWORD},
        {"tenant": slug, "email": "nobody@example.com", "password": PASSWORD},
        {"tenant": slug, "email": "owner@example.com", "password": "wrong password!"},
        # Names no slug or address could be: still just unknown, never a 400 that says so.
        {"tenant": "No_Such_Tenant", "email": "owner@example.com", "password": PASSWORD},
        {"tenant": slug, "email": "nobody@nowhere", "password": PASSWORD},
        {"tenant": slug.upper(), "email": "owner@example.com", "password": "wrong password!"},
    ]
    messages = set()
    for body in attempts:
        async with http.post("/v1/auth/login", json=body) as response:
            error = await assert_error(response, 401, "invalid_credentials")
            messages.add(error["message"])
    assert len(messages) == 1


async def test_emails_are_matched_case_insensitively_at_login(http: aiohttp.ClientSession) -> None:
    tenant = await signup(http, email="Mixed.Case@Example.com")
    headers = {"X-Auth-Mode": "bearer"}
    async with await _login(
        http, tenant["tenant"]["slug"], "mixed.case@example.COM", headers=headers
    ) as r:
        assert r.status == 200


async def test_refresh_rotates_and_a_spent_token_is_refused(http: aiohttp.ClientSession) -> None:
    tenant = await signup(http)
    headers = {"X-Auth-Mode": "bearer"}

    async def refresh(token: str) -> aiohttp.ClientResponse:
        return await http.post("/v1/auth/refresh", json={"refresh_token": token}, headers=headers)

    rt0 = tenant["refresh_token"]
    async with await refresh(rt0) as r:
        assert r.status == 200
        first = await r.json()
    assert first["refresh_token"] != rt0
    assert first["access_token"] != tenant["access_token"]
    async with await refresh(first["refresh_token"]) as r:
        assert r.status == 200
        second = await r.json()
    # rt0 is now two rotations old: outside any grace, it is reuse.
    async with await refresh(rt0) as r:
        await assert_error(r, 401, "refresh_token_reused")
    # Reuse ended the whole session: the newest pair is dead too, at once.
    async with await refresh(second["refresh_token"]) as r:
        await assert_error(r, 401)
    async with http.get("/v1/auth/me", headers=bearer(second["access_token"])) as r:
        await assert_error(r, 401, "unauthenticated")


async def test_parallel_refreshes_with_one_token_get_one_child(http: aiohttp.ClientSession) -> None:
    tenant = await signup(http)
    headers = {"X-Auth-Mode": "bearer"}

    async def refresh() -> dict[str, Any]:
        async with http.post(
            "/v1/auth/refresh", json={"refresh_token": tenant["refresh_token"]}, headers=headers
        ) as r:
            assert r.status == 200, await r.text()
            result: dict[str, Any] = await r.json()
            return result

    results = await asyncio.gather(*(refresh() for _ in range(4)))
    assert len({r["refresh_token"] for r in results}) == 1
    assert len({r["access_token"] for r in results}) == 1


async def test_logout_ends_the_session_at_once(http: aiohttp.ClientSession) -> None:
    tenant = await signup(http)
    access = tenant["access_token"]
    async with http.post("/v1/auth/logout", headers=bearer(access)) as r:
        assert r.status == 204
    async with http.get("/v1/auth/me", headers=bearer(access)) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.post(
        "/v1/auth/refresh",
        json={"refresh_token": tenant["refresh_token"]},
        headers={"X-Auth-Mode": "bearer"},
    ) as r:
        await assert_error(r, 401)


async def test_other_sessions_survive_one_logout(http: aiohttp.ClientSession) -> None:
    tenant = await signup(http)
    async with await _login(
        http, tenant["tenant"]["slug"], "owner@example.com", headers={"X-Auth-Mode": "bearer"}
    ) as r:
        second = await r.json()
    async with http.post("/v1/auth/logout", headers=bearer(tenant["access_token"])) as r:
        assert r.status == 204
    async with http.get("/v1/auth/me", headers=bearer(second["access_token"])) as r:
        assert r.status == 200


async def test_bearer_clients_get_no_cookies_and_standard_token_headers(
    platform: Platform,
) -> None:
    """SPEC 4.1: bearer mode sets no cookie, logout included (a refresh token sent along
    is accepted); token responses are not cached (RFC 6749 5.1); a 401 names its scheme
    (RFC 9110 11.6.1, RFC 6750 3.1)."""
    async with aiohttp.ClientSession(
        base_url=platform.url, cookie_jar=aiohttp.DummyCookieJar()
    ) as http:
        result = await signup(http)
        access, refresh = result["access_token"], result["refresh_token"]
        body = {"refresh_token": refresh}
        async with http.post(
            "/v1/auth/refresh", json=body, headers={"X-Auth-Mode": "bearer"}
        ) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            assert "Set-Cookie" not in response.headers
            rotated = await response.json()
        async with http.post(
            "/v1/auth/logout",
            json={"refresh_token": rotated["refresh_token"]},
            headers=bearer(access),
        ) as response:
            assert response.status == 204
            assert "Set-Cookie" not in response.headers
        async with http.get("/v1/auth/me", headers=bearer(access)) as response:
            await assert_error(response, 401, "unauthenticated")
            assert response.headers["WWW-Authenticate"].startswith('Bearer realm="idp"')
        async with http.post(
            "/v1/auth/refresh", json=body, headers={"X-Auth-Mode": "bearer"}
        ) as response:
            assert response.status == 401
            assert "Set-Cookie" not in response.headers


async def test_a_cookie_login_from_another_site_is_refused(
    http: aiohttp.ClientSession, platform: Platform
) -> None:
    """Login CSRF: a page of another site cannot log the browser into an account it
    chose. Clients that name no origin, the edge's own pages and bearer mode still log in."""
    tenant = await signup(http)
    slug = tenant["tenant"]["slug"]
    evil = {"Origin": "http://evil.example"}
    async with await _login(http, slug, "owner@example.com", headers=evil) as r:
        await assert_error(r, 403, "csrf_rejected")
        assert "Set-Cookie" not in r.headers
    for headers in ({}, {"Origin": platform.url}, {**evil, "X-Auth-Mode": "bearer"}):
        async with await _login(http, slug, "owner@example.com", headers=headers) as r:
            assert r.status == 200, (headers, await r.text())


async def test_head_answers_wherever_get_does(http: aiohttp.ClientSession) -> None:
    """RFC 9110: HEAD is GET without the body (it was 405 on every API route)."""
    owner = await signup(http)
    headers = {"Authorization": f"Bearer {owner['access_token']}"}
    async with http.get("/v1/auth/me", headers=headers) as got:
        assert got.status == 200
        length = got.headers["Content-Length"]
    async with http.head("/v1/auth/me", headers=headers) as head:
        assert head.status == 200
        assert head.headers["Content-Type"].startswith("application/json")
        assert head.headers["Content-Length"] == length
        assert await head.read() == b""
    async with http.head("/v1/auth/me") as anonymous:
        assert anonymous.status == 401


async def test_a_respelled_refresh_token_is_invalid_not_reuse(
    http: aiohttp.ClientSession,
) -> None:
    """A never-used refresh token with "=" added (a client or proxy normalising base64)
    verified, matched no stored hash and was taken for a spent one: the session ended as
    reuse, with a false theft signal in the audit trail. It is an invalid token now, and
    the session lives on."""
    owner = await signup(http)
    headers = {"X-Auth-Mode": "bearer"}
    body = {"refresh_token": owner["refresh_token"] + "="}
    async with http.post("/v1/auth/refresh", json=body, headers=headers) as r:
        await assert_error(r, 401, "unauthenticated")
    async with http.get("/v1/auth/me", headers=bearer(owner["access_token"])) as r:
        assert r.status == 200
    body = {"refresh_token": owner["refresh_token"]}
    async with http.post("/v1/auth/refresh", json=body, headers=headers) as r:
        assert r.status == 200, await r.text()
