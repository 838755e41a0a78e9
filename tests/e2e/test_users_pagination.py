"""Keyset pagination: every row exactly once, even while rows are being inserted."""

import asyncio

import aiohttp

from tests.e2e.admin_support import Tenant, call, create_user, new_tenant


async def _invite(http: aiohttp.ClientSession, tenant: Tenant, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        user = await create_user(http, tenant, "member", password=None)
        ids.append(str(user["id"]))
    return ids


async def _walk(http: aiohttp.ClientSession, tenant: Tenant, limit: int) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": str(limit)}
        if cursor:
            params["cursor"] = cursor
        status, page = await call(http, "GET", "/v1/users", tenant.owner, params=params)
        assert status == 200, page
        assert len(page["items"]) <= limit
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        await asyncio.sleep(0.01)  # let the writers interleave with the pages


async def test_every_row_exactly_once_while_rows_are_inserted(
    http: aiohttp.ClientSession,
) -> None:
    tenant = await new_tenant(http)
    existing = [tenant.owner.id, *await _invite(http, tenant, 40)]
    writers = [asyncio.create_task(_invite(http, tenant, 10)) for _ in range(3)]
    seen = await _walk(http, tenant, limit=7)
    added = [i for ids in await asyncio.gather(*writers) for i in ids]
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert set(existing) <= set(seen), "a row that existed all along was skipped"
    assert set(seen) <= set(existing) | set(added)
    # Once the writers are done, one walk returns all of them, in order, once each.
    final = await _walk(http, tenant, limit=200)
    assert final == existing + [i for i in final if i in set(added)]
    assert sorted(final) == sorted(existing + added)


async def test_the_default_limit_is_50(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    await asyncio.gather(*(_invite(http, tenant, 13) for _ in range(4)))
    status, page = await call(http, "GET", "/v1/users", tenant.owner)
    assert status == 200
    assert len(page["items"]) == 50
    assert page["next_cursor"]
    status, rest = await call(
        http, "GET", "/v1/users", tenant.owner, params={"cursor": page["next_cursor"]}
    )
    assert status == 200
    assert len(rest["items"]) == 3
    assert rest["next_cursor"] is None


async def test_empty_query_parameters_mean_not_given(http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    invited = await _invite(http, tenant, 2)
    empty = {"limit": "", "cursor": "", "q": "", "role": "", "status": ""}
    status, page = await call(http, "GET", "/v1/users", tenant.owner, params=empty)
    assert status == 200, page
    assert [u["id"] for u in page["items"]] == [tenant.owner.id, *invited]
    assert page["next_cursor"] is None
    status, page = await call(http, "GET", "/v1/audit", tenant.owner, params={"action": ""})
    assert status == 200, page
    assert page["items"]
    # A value that is given is still validated.
    status, page = await call(http, "GET", "/v1/users", tenant.owner, params={"limit": "0"})
    assert status == 400, page


async def test_a_query_parameter_given_twice_or_not_in_digits_is_refused(
    http: aiohttp.ClientSession,
) -> None:
    """Servers and proxies disagree on which of two values counts; ``+5`` and ``1_0``
    were read as numbers by Python's ``int``."""
    tenant = await new_tenant(http)
    status, body = await call(http, "GET", "/v1/users?limit=5&limit=10", tenant.owner)
    assert status == 400, body
    assert body["error"]["code"] == "invalid_request"
    assert [d["field"] for d in body["error"]["details"]] == ["limit"]
    status, body = await call(http, "GET", "/v1/audit?action=a&action=", tenant.owner)
    assert status == 400, body
    for written in ("+5", "1_0", " 5"):
        status, body = await call(http, "GET", "/v1/users", tenant.owner, params={"limit": written})
        assert status == 400, (written, body)
        assert [d["field"] for d in body["error"]["details"]] == ["limit"]
