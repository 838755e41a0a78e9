"""The client's administration methods against the real users, roles, sessions and files routes."""

import uuid

import aiohttp
import pytest

from contracts.files import CreatedFile, File, FileDetail, Upload
from contracts.models import User
from contracts.roles import PermissionView, Role
from contracts.sessions import SessionView
from contracts.users import AuditEntry
from idp_client import Conflict, NotFound, Page
from idp_testing.plugin import TenantFactory

PASSWORD = "a long enough passphrase"


async def test_an_admin_runs_the_tenant_through_the_client(
    idp_tenant_factory: TenantFactory,
) -> None:
    tenant = await idp_tenant_factory()
    client = tenant.client
    role = await client.create_role(
        name="auditor", description="Reads the trail", permissions=["audit:read", "users:read"]
    )
    assert isinstance(role, Role)
    assert role.name == "auditor"
    roles = await client.list_roles()
    assert all(isinstance(r, Role) for r in roles)
    assert {r.name for r in roles} >= {"owner", "admin", "member", "auditor"}
    permissions = await client.list_permissions()
    assert all(isinstance(p, PermissionView) for p in permissions)
    assert "audit:read" in [p.name for p in permissions]
    email = f"colleague-{uuid.uuid4().hex[:6]}@example.com"
    user = await client.create_user(
        email=email,
        name="Colleague",
        role="member",
        password=PASSWORD,
        idempotency_key=str(uuid.uuid4()),
    )
    assert user.email == email
    assert user.role == "member"
    assert (await client.get_user(user.id)).id == user.id
    changed = await client.set_user_role(user.id, "auditor")
    assert isinstance(changed, User)
    assert changed.id == user.id
    assert changed.role == "auditor"
    renamed = await client.update_user(user.id, name="Renamed")
    assert renamed.name == "Renamed"
    page = await client.list_users(limit=1)
    assert len(page.items) == 1
    assert page.next_cursor
    assert await client.list_user_sessions(user.id) == []
    await client.revoke_user_sessions(user.id)
    with pytest.raises(Conflict):  # in use by the colleague
        await client.delete_role(role.id)
    await client.delete_user(user.id)
    with pytest.raises(NotFound):
        await client.get_user(user.id)
    await client.delete_role(role.id)
    tenant_view = await client.update_tenant(name="Renamed Tenant")
    assert tenant_view.name == "Renamed Tenant"
    assert (await client.get_tenant()).name == "Renamed Tenant"
    trail = await client.list_audit(action="user.created")
    assert isinstance(trail, Page)
    assert all(isinstance(e, AuditEntry) for e in trail.items)
    assert [e.action for e in trail.items] == ["user.created"] * len(trail.items)
    sessions = await client.list_sessions()
    assert all(isinstance(s, SessionView) for s in sessions)
    assert any(s.current for s in sessions)


async def test_files_through_the_client(idp_tenant_factory: TenantFactory) -> None:
    tenant = await idp_tenant_factory()
    client = tenant.client
    content = b"hello from the client\n"
    created = await client.create_file(
        filename="notes.txt", content_type="text/plain", size=len(content)
    )
    assert isinstance(created, CreatedFile)
    assert isinstance(created.file, File)
    upload = created.upload
    assert isinstance(upload, Upload)
    async with (
        aiohttp.ClientSession() as http,
        http.request(upload.method, upload.url, data=content, headers=upload.headers) as response,
    ):
        assert response.status == 200
    file_id = created.file.id
    ready = await client.complete_file(file_id)
    assert isinstance(ready, File)
    assert ready.status == "ready"
    detail = await client.get_file(file_id)
    assert isinstance(detail, FileDetail)
    assert detail.download_url
    files = await client.list_files()
    assert isinstance(files, Page)
    assert all(isinstance(f, File) for f in files.items)
    assert [f.id for f in files.items] == [file_id]
    await client.delete_file(file_id)
    with pytest.raises(NotFound):
        await client.get_file(file_id)
    with pytest.raises(NotFound):  # nobody of that id in this tenant
        await client.revoke_user_sessions(uuid.uuid4())
