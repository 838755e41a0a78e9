"""The request every client method builds, seen by a real in-process aiohttp server.

Covers the routes whose workers are not in this branch yet (users, roles, sessions,
files, audit) as well as the rest: method, path, query, body, headers.
"""

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pydantic import ValidationError

from contracts.auth import LoginResult, Me
from contracts.files import CreatedFile, File, FileDetail, Upload
from contracts.models import Tenant, User
from contracts.roles import PermissionView, Role
from contracts.sessions import SessionView
from contracts.users import AuditEntry
from idp_client import (
    AsyncIdpClient,
    Conflict,
    Forbidden,
    IdpClient,
    IdpError,
    InvalidRequest,
    NotFound,
    Page,
    PayloadTooLarge,
    RateLimited,
    Timeout,
    Tokens,
    Unauthenticated,
    Unavailable,
)

UID = uuid.UUID("00000000-0000-4000-8000-000000000001")
NOW = "2024-01-01T00:00:00Z"
TENANT = {"id": str(UID), "slug": "acme", "name": "Acme", "settings": {}, "created_at": NOW}
USER = {
    "id": str(UID),
    "tenant_id": str(UID),
    "email": "a@example.com",
    "name": "A",
    "role": "owner",
    "status": "active",
    "email_verified": False,
    "created_at": NOW,
    "updated_at": NOW,
}
ME = {"user": USER, "tenant": TENANT, "role": "owner", "permissions": ["users:read"]}
SESSION = {
    "id": str(UID),
    "created_at": NOW,
    "last_used_at": NOW,
    "expires_at": NOW,
    "user_agent": "idp-client",
    "ip": "127.0.0.1",
    "current": True,
}
ROLE = {
    "id": str(UID),
    "name": "auditor",
    "description": "Reads the trail",
    "permissions": ["audit:read"],
    "builtin": False,
    "created_at": NOW,
    "updated_at": NOW,
}
FILE_VIEW = {
    "id": str(UID),
    "tenant_id": str(UID),
    "filename": "a.png",
    "content_type": "image/png",
    "size": 3,
    "status": "pending",
    "created_by": str(UID),
    "created_at": NOW,
    "updated_at": NOW,
    "uploaded_at": None,
}
READY_FILE = {**FILE_VIEW, "status": "ready", "uploaded_at": NOW}
FILE_DETAIL = {**READY_FILE, "download_url": "http://s3/x?signed", "download_expires_in": 300}
CREATED_FILE = {
    "file": FILE_VIEW,
    "upload": {
        "url": "http://s3/x",
        "method": "PUT",
        "headers": {"Content-Type": "image/png"},
        "expires_in": 900,
    },
}
AUDIT_ENTRY = {
    "id": str(UID),
    "occurred_at": NOW,
    "actor_id": str(UID),
    "action": "user.created",
    "target_type": "user",
    "target_id": str(UID),
    "data": {"email": "a@example.com"},
    "request_id": "rid-1",
    "ip": None,
}


def login_result(n: int) -> dict[str, Any]:
    return {
        "user": USER,
        "tenant": TENANT,
        "expires_in": 900,
        "token_type": "Bearer",
        "access_token": f"access-{n}",
        "refresh_token": f"refresh-{n}",
    }


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class Recorder:
    """Answers from a table keyed by (method, path); records every request."""

    answers: dict[tuple[str, str], tuple[int, Any]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    refreshes: int = 0
    valid_access: str = "access-1"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = await request.json() if raw else None
        self.seen.append(
            Seen(
                request.method,
                request.rel_url.raw_path,
                dict(request.query),
                body,
                dict(request.headers),
            )
        )
        if request.path == "/v1/auth/refresh":
            self.refreshes += 1
            await asyncio.sleep(0.05)  # long enough for concurrent callers to pile up
            if body == {"refresh_token": f"refresh-{self.refreshes}"}:
                self.valid_access = f"access-{self.refreshes + 1}"
                return web.json_response(login_result(self.refreshes + 1))
            return _error(401, "refresh_token_reused")
        status, answer = self.answers.get((request.method, request.path), (200, {}))
        authorization = request.headers.get("Authorization")
        if request.path == "/v1/auth/me" and authorization != f"Bearer {self.valid_access}":
            return _error(401, "token_expired")
        if status == 204 or answer is None:
            return web.Response(status=status)
        return web.json_response(answer, status=status)


def _error(status: int, code: str, **extra: Any) -> web.Response:
    body = {"error": {"code": code, "message": f"{code} happened", "request_id": "rid-1", **extra}}
    return web.json_response(body, status=status, headers={"X-Request-ID": "rid-1"})


@pytest.fixture
async def recorder() -> AsyncIterator[tuple[Recorder, str]]:
    recorder = Recorder()
    app = web.Application()

    async def dispatch(request: web.Request) -> web.StreamResponse:
        return await recorder.handle(request)  # looked up per request: tests may replace it

    app.router.add_route("*", "/{tail:.*}", dispatch)
    server = TestServer(app)
    await server.start_server()
    yield recorder, str(server.make_url("")).rstrip("/")
    await server.close()


Call = Callable[[AsyncIdpClient], Awaitable[Any]]

# (call, method, path, query, body, answer status, answer body, result check)
CASES: list[tuple[str, Call, str, str, dict[str, str], Any, int, Any]] = [
    ("signup", lambda c: c.signup(slug="acme", name="Acme", owner_email="a@example.com",
     owner_password="pw-pw-pw-pw", owner_name="A"), "POST", "/v1/tenants", {},
     {"slug": "acme", "name": "Acme",
      "owner": {"email": "a@example.com", "password": "pw-pw-pw-pw", "name": "A"}},
     201, login_result(1)),
    ("login", lambda c: c.login(tenant="acme", email="a@example.com", password="pw"),
     "POST", "/v1/auth/login", {}, {"tenant": "acme", "email": "a@example.com", "password": "pw"},
     200, login_result(1)),
    ("refresh", lambda c: c.refresh("refresh-1"), "POST", "/v1/auth/refresh", {},
     {"refresh_token": "refresh-1"}, 200, None),
    ("request_password_reset", lambda c: c.request_password_reset(tenant="acme",
     email="a@example.com"), "POST", "/v1/auth/password-reset/request", {},
     {"tenant": "acme", "email": "a@example.com"}, 202, None),
    ("confirm_password_reset", lambda c: c.confirm_password_reset(token="t", new_password="n"),
     "POST", "/v1/auth/password-reset/confirm", {}, {"token": "t", "new_password": "n"}, 204,
     None),
    ("confirm_email_verification", lambda c: c.confirm_email_verification(token="t"), "POST",
     "/v1/auth/verify-email/confirm", {}, {"token": "t"}, 204, None),
    ("healthz", lambda c: c.healthz(), "GET", "/healthz", {}, None, 200, {"status": "ok"}),
    ("readyz", lambda c: c.readyz(), "GET", "/readyz", {}, None, 200, {"families": {}}),
    ("openapi", lambda c: c.openapi(), "GET", "/openapi.json", {}, None, 200, {"openapi": "3.1.0"}),
    ("docs", lambda c: c.docs(), "GET", "/docs", {}, None, 200, {}),
    ("metrics", lambda c: c.metrics(), "GET", "/metrics", {}, None, 200, {}),
    ("me", lambda c: c.me(), "GET", "/v1/auth/me", {}, None, 200, ME),
    ("logout", lambda c: c.logout(), "POST", "/v1/auth/logout", {}, None, 204, None),
    ("logout_all", lambda c: c.logout_all(), "POST", "/v1/auth/logout-all", {}, None, 204, None),
    ("list_sessions", lambda c: c.list_sessions(), "GET", "/v1/auth/sessions", {}, None, 200,
     {"items": [SESSION]}),
    ("revoke_session", lambda c: c.revoke_session("s/1"), "DELETE", "/v1/auth/sessions/s%2F1", {},
     None, 204, None),
    ("change_password", lambda c: c.change_password(current_password="a", new_password="b"),
     "POST", "/v1/auth/password", {}, {"current_password": "a", "new_password": "b"}, 204, None),
    ("request_email_verification", lambda c: c.request_email_verification(), "POST",
     "/v1/auth/verify-email/request", {}, None, 202, None),
    ("get_tenant", lambda c: c.get_tenant(), "GET", "/v1/tenant", {}, None, 200, TENANT),
    ("update_tenant", lambda c: c.update_tenant(name="New"), "PATCH", "/v1/tenant", {},
     {"name": "New"}, 200, TENANT),
    ("list_users", lambda c: c.list_users(limit=10, cursor="cur", q="bob", role="admin",
     status="active"), "GET", "/v1/users",
     {"limit": "10", "cursor": "cur", "q": "bob", "role": "admin", "status": "active"}, None, 200,
     {"items": [USER], "next_cursor": "n"}),
    ("create_user", lambda c: c.create_user(email="b@example.com", name="B", role="member"),
     "POST", "/v1/users", {}, {"email": "b@example.com", "name": "B", "role": "member"}, 201,
     USER),
    ("get_user", lambda c: c.get_user(UID), "GET", f"/v1/users/{UID}", {}, None, 200, USER),
    ("update_user", lambda c: c.update_user(UID, status="disabled"), "PATCH", f"/v1/users/{UID}",
     {}, {"status": "disabled"}, 200, USER),
    ("delete_user", lambda c: c.delete_user(UID), "DELETE", f"/v1/users/{UID}", {}, None, 204,
     None),
    ("set_user_role", lambda c: c.set_user_role(UID, "admin"), "PUT", f"/v1/users/{UID}/role", {},
     {"role": "admin"}, 200, USER),
    ("list_user_sessions", lambda c: c.list_user_sessions(UID), "GET",
     f"/v1/users/{UID}/sessions", {}, None, 200, {"items": [SESSION]}),
    ("revoke_user_sessions", lambda c: c.revoke_user_sessions(UID), "DELETE",
     f"/v1/users/{UID}/sessions", {}, None, 204, None),
    ("list_roles", lambda c: c.list_roles(), "GET", "/v1/roles", {}, None, 200,
     {"items": [ROLE]}),
    ("get_role", lambda c: c.get_role("r1"), "GET", "/v1/roles/r1", {}, None, 200, ROLE),
    ("create_role", lambda c: c.create_role(name="auditor", description="Reads the trail",
     permissions=["audit:read"]), "POST", "/v1/roles", {},
     {"name": "auditor", "description": "Reads the trail", "permissions": ["audit:read"]}, 201,
     ROLE),
    ("update_role", lambda c: c.update_role("r1", permissions=[]), "PATCH", "/v1/roles/r1", {},
     {"permissions": []}, 200, ROLE),
    ("delete_role", lambda c: c.delete_role("r1"), "DELETE", "/v1/roles/r1", {}, None, 204, None),
    ("list_permissions", lambda c: c.list_permissions(), "GET", "/v1/permissions", {}, None, 200,
     {"items": [{"name": "audit:read", "description": "Read the tenant's audit trail"}]}),
    ("create_file", lambda c: c.create_file(filename="a.png", content_type="image/png", size=3),
     "POST", "/v1/files", {}, {"filename": "a.png", "content_type": "image/png", "size": 3}, 201,
     CREATED_FILE),
    ("complete_file", lambda c: c.complete_file(UID), "POST", f"/v1/files/{UID}/complete", {},
     None, 200, READY_FILE),
    ("list_files", lambda c: c.list_files(limit=5), "GET", "/v1/files", {"limit": "5"}, None, 200,
     {"items": [READY_FILE], "next_cursor": "n"}),
    ("get_file", lambda c: c.get_file(UID), "GET", f"/v1/files/{UID}", {}, None, 200,
     FILE_DETAIL),
    ("delete_file", lambda c: c.delete_file(UID), "DELETE", f"/v1/files/{UID}", {}, None, 204,
     None),
    ("list_audit", lambda c: c.list_audit(action="user.created", cursor="c"), "GET", "/v1/audit",
     {"action": "user.created", "cursor": "c"}, None, 200,
     {"items": [AUDIT_ENTRY], "next_cursor": None}),
]  # fmt: skip


def test_every_public_method_is_covered_and_has_a_sync_twin() -> None:
    methods = {
        name
        for name, member in inspect.getmembers(AsyncIdpClient, inspect.iscoroutinefunction)
        if not name.startswith("_") and name != "close"
    }
    assert methods == {case[0] for case in CASES}
    with IdpClient("http://127.0.0.1:9") as blocking:
        for name in methods:
            twin = getattr(blocking, name)
            assert callable(twin), name
            assert not inspect.iscoroutinefunction(twin), name
            assert twin.__doc__ == getattr(AsyncIdpClient, name).__doc__


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "query", "body", "status", "answer"),
    CASES,
    ids=[case[0] for case in CASES],
)
async def test_the_request_each_method_builds(
    recorder: tuple[Recorder, str],
    name: str,
    call: Call,
    method: str,
    path: str,
    query: dict[str, str],
    body: Any,
    status: int,
    answer: Any,
) -> None:
    server, url = recorder
    server.answers[(method, path)] = (status, answer)
    async with AsyncIdpClient(url, tokens=Tokens("access-1", "refresh-1")) as client:
        result = await call(client)
    request = server.seen[-1]
    assert (request.method, request.path, request.query, request.body) == (
        method,
        path,
        query,
        body,
    )
    assert request.headers["X-Auth-Mode"] == "bearer"
    if name in {"signup", "login", "refresh"}:
        assert isinstance(result, LoginResult)
    elif name == "me":
        assert isinstance(result, Me)
    elif name in {"get_tenant", "update_tenant"}:
        assert isinstance(result, Tenant)
    elif name in {"create_user", "get_user", "update_user", "set_user_role"}:
        assert isinstance(result, User)
    elif name == "list_users":
        assert isinstance(result, Page)
        assert result.next_cursor == "n"
        assert isinstance(result.items[0], User)
    elif name in {"list_sessions", "list_user_sessions", "list_roles", "list_permissions"}:
        assert isinstance(result, list)
        assert len(result) == 1
        [item] = result
        if name == "list_roles":
            assert isinstance(item, Role)
            assert item.name == "auditor"
        elif name == "list_permissions":
            assert isinstance(item, PermissionView)
            assert item.name == "audit:read"
        else:
            assert isinstance(item, SessionView)
            assert (item.id, item.current) == (UID, True)
    elif name in {"get_role", "create_role", "update_role"}:
        assert isinstance(result, Role)
        assert (result.id, result.permissions) == (UID, ["audit:read"])
    elif name == "create_file":
        assert isinstance(result, CreatedFile)
        assert isinstance(result.file, File)
        assert isinstance(result.upload, Upload)
        assert (result.file.status, result.upload.url) == ("pending", "http://s3/x")
        assert result.upload.headers == {"Content-Type": "image/png"}
    elif name == "complete_file":
        assert type(result) is File
        assert (result.id, result.status) == (UID, "ready")
    elif name == "get_file":
        assert isinstance(result, FileDetail)
        assert result.download_url == "http://s3/x?signed"
    elif name == "list_files":
        assert isinstance(result, Page)
        assert result.next_cursor == "n"
        assert isinstance(result.items[0], File)
    elif name == "list_audit":
        assert isinstance(result, Page)
        assert result.next_cursor is None
        assert isinstance(result.items[0], AuditEntry)
        assert result.items[0].action == "user.created"
    elif name in {"healthz", "readyz", "openapi"}:
        assert result == answer
    elif status in {202, 204}:
        assert result is None


# Answers that do not match the route's contract model, including the shapes the client
# used to tolerate (a bare list, ``{"permissions": [...]}``) and the ``{}`` it used to
# turn a non-object answer into.
MALFORMED: list[tuple[str, Call, str, str, Any]] = [
    ("get_user", lambda c: c.get_user(UID), "GET", f"/v1/users/{UID}", {"id": "u1"}),
    ("set_user_role", lambda c: c.set_user_role(UID, "admin"), "PUT", f"/v1/users/{UID}/role", {}),
    ("list_sessions", lambda c: c.list_sessions(), "GET", "/v1/auth/sessions", [SESSION]),
    ("list_user_sessions", lambda c: c.list_user_sessions(UID), "GET",
     f"/v1/users/{UID}/sessions", {"items": [{"id": "s1"}]}),
    ("list_roles", lambda c: c.list_roles(), "GET", "/v1/roles", {"items": [{"name": "owner"}]}),
    ("get_role", lambda c: c.get_role("r1"), "GET", "/v1/roles/r1", {"id": "r1"}),
    ("create_role", lambda c: c.create_role(name="r", permissions=[]), "POST", "/v1/roles", []),
    ("update_role", lambda c: c.update_role("r1", name="r"), "PATCH", "/v1/roles/r1", {}),
    ("list_permissions", lambda c: c.list_permissions(), "GET", "/v1/permissions",
     {"permissions": ["audit:read"]}),
    ("create_file", lambda c: c.create_file(filename="a.png", content_type="image/png", size=3),
     "POST", "/v1/files", {"file": {"id": str(UID)}, "upload": {"url": "http://s3/x"}}),
    ("complete_file", lambda c: c.complete_file(UID), "POST", f"/v1/files/{UID}/complete",
     {**READY_FILE, "status": "gone"}),
    ("list_files", lambda c: c.list_files(), "GET", "/v1/files", {"items": [{"id": str(UID)}]}),
    ("get_file", lambda c: c.get_file(UID), "GET", f"/v1/files/{UID}", "not json"),
    ("list_audit", lambda c: c.list_audit(), "GET", "/v1/audit", {"next_cursor": None}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "call", "method", "path", "answer"), MALFORMED, ids=[m[0] for m in MALFORMED]
)
async def test_a_success_body_off_its_contract_model_raises_validation_error(
    recorder: tuple[Recorder, str], name: str, call: Call, method: str, path: str, answer: Any
) -> None:
    server, url = recorder
    server.answers[(method, path)] = (200, answer)
    async with AsyncIdpClient(url, tokens=Tokens("access-1", "refresh-1")) as client:
        with pytest.raises(ValidationError):
            await call(client)
    assert (server.seen[-1].method, server.seen[-1].path) == (method, path)


async def test_bearer_idempotency_key_and_request_id_headers(
    recorder: tuple[Recorder, str],
) -> None:
    server, url = recorder
    server.answers[("POST", "/v1/tenants")] = (201, login_result(1))
    server.answers[("POST", "/v1/roles")] = (201, ROLE)
    async with AsyncIdpClient(url, tokens=Tokens("access-1", "refresh-1")) as client:
        role = await client.create_role(
            name="r", permissions=[], idempotency_key="key-1", request_id="req-1"
        )
        assert isinstance(role, Role)
        await client.signup(
            slug="acme",
            name="A",
            owner_email="a@example.com",
            owner_password="pw-pw-pw-pw",
            owner_name="A",
        )
    authed, public = server.seen
    assert authed.headers["Authorization"] == "Bearer access-1"
    assert authed.headers["Idempotency-Key"] == "key-1"
    assert authed.headers["X-Request-ID"] == "req-1"
    assert "Authorization" not in public.headers  # public routes never carry the token
    assert "Idempotency-Key" not in public.headers


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequest),
        (401, Unauthenticated),
        (403, Forbidden),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (429, RateLimited),
        (503, Unavailable),
        (504, Timeout),
        (500, IdpError),
    ],
)
async def test_error_statuses_become_typed_exceptions(
    recorder: tuple[Recorder, str], status: int, cls: type[IdpError]
) -> None:
    server, url = recorder

    async def fail(request: web.Request) -> web.Response:
        response = _error(status, "some_code", details=[{"field": "slug", "message": "bad"}])
        response.headers["Retry-After"] = "7"
        return response

    server.handle = fail  # type: ignore[method-assign]
    async with AsyncIdpClient(url) as client:
        with pytest.raises(cls) as caught:
            await client.get_tenant()
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.message) == (status, "some_code", "some_code happened")
    assert error.request_id == "rid-1"
    assert error.details == [{"field": "slug", "message": "bad"}]
    assert error.retry_after == 7


async def test_concurrent_401s_share_one_refresh_and_the_pair_rotates(
    recorder: tuple[Recorder, str],
) -> None:
    server, url = recorder
    server.answers[("GET", "/v1/auth/me")] = (200, ME)
    server.valid_access = "access-2"  # the client's access-1 is expired
    pairs: list[Tokens | None] = []
    async with AsyncIdpClient(
        url, tokens=Tokens("access-1", "refresh-1"), on_tokens=pairs.append
    ) as client:
        results = await asyncio.gather(*(client.me() for _ in range(8)))
        assert all(isinstance(me, Me) for me in results)
        assert server.refreshes == 1
        assert pairs == [Tokens("access-2", "refresh-2")]
        server.valid_access = "access-3"
        await client.me()
        assert server.refreshes == 2
        assert client.tokens == Tokens("access-3", "refresh-3")


async def test_a_failed_refresh_raises_the_original_error(recorder: tuple[Recorder, str]) -> None:
    server, url = recorder
    server.valid_access = "nobody-has-this"
    async with AsyncIdpClient(url, tokens=Tokens("access-1", "refresh-9")) as client:
        results = await asyncio.gather(
            *(client.me(request_id=f"r{i}") for i in range(3)), return_exceptions=True
        )
    assert all(isinstance(r, Unauthenticated) and r.code == "token_expired" for r in results)
    assert server.refreshes == 1, "a pair that failed to refresh is not presented again"
    assert client.tokens == Tokens("access-1", "refresh-9")


async def test_no_refresh_without_a_refresh_token(recorder: tuple[Recorder, str]) -> None:
    server, url = recorder
    async with AsyncIdpClient(url, tokens=Tokens("access-0")) as client:
        with pytest.raises(Unauthenticated):
            await client.me()
    assert server.refreshes == 0


async def test_an_unreachable_edge_is_unavailable() -> None:
    async with AsyncIdpClient("http://127.0.0.1:9") as client:
        with pytest.raises(Unavailable) as caught:
            await client.healthz()
    assert caught.value.code == "unavailable"


async def test_the_sync_facade_runs_on_its_own_loop(recorder: tuple[Recorder, str]) -> None:
    server, url = recorder
    server.answers[("GET", "/v1/auth/me")] = (200, ME)

    def use_sync_client() -> tuple[Me, Tokens | None]:
        with IdpClient(url, tokens=Tokens("access-1", "refresh-1")) as client:
            login = client.login(tenant="acme", email="a@example.com", password="pw")
            assert isinstance(login, LoginResult)
            roles = client.list_roles()
            assert [type(role) for role in roles] == [Role]
            assert isinstance(client.get_file(UID), FileDetail)
            return client.me(), client.tokens

    server.answers[("POST", "/v1/auth/login")] = (200, login_result(1))
    server.answers[("GET", "/v1/roles")] = (200, {"items": [ROLE]})
    server.answers[("GET", f"/v1/files/{UID}")] = (200, FILE_DETAIL)
    me, tokens = await asyncio.to_thread(use_sync_client)
    assert me.role == "owner"
    assert tokens == Tokens("access-1", "refresh-1")
