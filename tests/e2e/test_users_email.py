"""Emails: unique per tenant, compared case-insensitively, and silent about other tenants."""

import asyncio

import aiohttp

from tests.e2e.admin_support import an_email, call, create_user, new_tenant
from tests.e2e.conftest import assert_error


async def test_the_same_email_may_live_in_two_tenants(http: aiohttp.ClientSession) -> None:
    a, b = await new_tenant(http), await new_tenant(http)
    email = an_email("shared")
    in_a = await create_user(http, a, "member", email=email)
    in_b = await create_user(http, b, "member", email=email)
    assert in_a["id"] != in_b["id"]
    assert in_b["tenant_id"] == b.id
    # And a tenant's owner email is free in another tenant.
    await create_user(http, b, "member", email=a.owner.user["email"])


async def test_a_case_insensitive_duplicate_in_one_tenant_is_409(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    email = an_email("Mixed.Case")
    await create_user(http, tenant, "member", email=email)
    for variant in (email, email.lower(), email.upper(), tenant.owner.user["email"].upper()):
        body = {"email": variant, "name": "Dup", "role": "member"}
        async with http.post("/v1/users", json=body, headers=tenant.owner.headers) as response:
            await assert_error(response, 409, "conflict")


async def test_the_409_says_nothing_about_other_tenants(http: aiohttp.ClientSession) -> None:
    a, b = await new_tenant(http), await new_tenant(http)
    everywhere, only_in_b = an_email("both"), an_email("b-only")
    await create_user(http, a, "member", email=everywhere)
    await create_user(http, b, "member", email=everywhere)
    await create_user(http, b, "member", email=only_in_b)
    answers = []
    for email in (everywhere, only_in_b):
        status, body = await call(
            http, "POST", "/v1/users", b.owner, {"email": email, "name": "N", "role": "member"}
        )
        assert status == 409
        error = body["error"]
        answers.append({k: v for k, v in error.items() if k != "request_id"})
        text = str(body)
        for secret in (a.id, a.slug, a.owner.id):
            assert secret not in text
    assert answers[0] == answers[1]


async def test_concurrent_creates_of_one_email_make_one_user(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    email = an_email("race")
    body = {"email": email, "name": "Race", "role": "member"}
    results = await asyncio.gather(
        *(call(http, "POST", "/v1/users", tenant.owner, body) for _ in range(6))
    )
    assert sorted(status for status, _ in results) == [201, 409, 409, 409, 409, 409]
    status, page = await call(http, "GET", "/v1/users", tenant.owner, params={"q": email})
    assert status == 200
    assert len(page["items"]) == 1
