"""The users and roles families over AMQP: same fields, same tokens, same answers (SPEC 5)."""

from collections.abc import AsyncIterator

import aiohttp
import pytest

from edge.requester import Requester
from idp.settings import Settings
from tests.e2e.admin_support import an_email, new_tenant, person
from tests.support.platform import Platform


@pytest.fixture
async def amqp(platform: Platform, settings: Settings) -> AsyncIterator[Requester]:
    requester = Requester(settings)
    await requester.start()
    yield requester
    await requester.stop()


async def test_users_routes_over_amqp(amqp: Requester, http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    auth = {"authorization": f"Bearer {tenant.owner.token}"}
    created = await amqp.call(
        "users.create", {"email": an_email(), "name": "Over AMQP", "role": "member"}, headers=auth
    )
    assert created["ok"] is True, created
    assert created["data"]["status"] == "invited"
    user_id = created["data"]["id"]
    listed = await amqp.call("users.list", {"limit": 1, "q": "over amqp"}, headers=auth)
    assert [u["id"] for u in listed["data"]["items"]] == [user_id]
    changed = await amqp.call("users.set_role", {"id": user_id, "role": "admin"}, headers=auth)
    assert changed["data"]["role"] == "admin"
    gone = await amqp.call("users.delete", {"id": user_id}, headers=auth)
    assert gone == {"ok": True, "data": None}
    missing = await amqp.call("users.get", {"id": "not-a-uuid"}, headers=auth)
    assert missing["error"]["status"] == 404
    tenant_reply = await amqp.call("users.tenant_get", {}, headers=auth)
    assert tenant_reply["data"]["id"] == tenant.id
    audit = await amqp.call("users.audit_list", {"action": "user.deleted"}, headers=auth)
    assert [e["target_id"] for e in audit["data"]["items"]] == [user_id]


async def test_roles_routes_over_amqp(amqp: Requester, http: aiohttp.ClientSession) -> None:
    tenant = await new_tenant(http)
    auth = {"authorization": f"Bearer {tenant.owner.token}"}
    created = await amqp.call(
        "roles.create", {"name": "amqp-role", "permissions": ["users:read"]}, headers=auth
    )
    assert created["ok"] is True, created
    role_id = created["data"]["id"]
    listed = await amqp.call("roles.list", {}, headers=auth)
    assert "amqp-role" in {r["name"] for r in listed["data"]["items"]}
    bad = await amqp.call(
        "roles.update", {"id": role_id, "permissions": ["nope:nope"]}, headers=auth
    )
    assert bad["error"]["status"] == 400
    deleted = await amqp.call("roles.delete", {"id": role_id}, headers=auth)
    assert deleted["ok"] is True
    catalogue = await amqp.call("roles.permissions", {}, headers=auth)
    assert len(catalogue["data"]["items"]) == 14


async def test_the_worker_checks_the_current_role_for_other_publishers(
    amqp: Requester, http: aiohttp.ClientSession
) -> None:
    """A publisher skipping the edge meets the same worker-side check."""
    tenant = await new_tenant(http)
    admin = await person(http, tenant, "admin")
    auth = {"authorization": f"Bearer {admin.token}"}
    assert (await amqp.call("roles.list", {}, headers=auth))["ok"] is True
    owner = {"authorization": f"Bearer {tenant.owner.token}"}
    demoted = await amqp.call("users.set_role", {"id": admin.id, "role": "member"}, headers=owner)
    assert demoted["ok"] is True
    reply = await amqp.call("users.audit_list", {}, headers=auth)
    assert reply["ok"] is False
    assert reply["error"]["code"] == "forbidden"
    for publisher in (None, "Bearer not.a.token"):
        headers = {"authorization": publisher} if publisher else {}
        reply = await amqp.call("users.list", {}, headers=headers)
        assert reply["error"]["status"] == 401
