"""The Python client against real processes: typed results, typed errors, refresh, sync."""

import asyncio
import uuid

import pytest

from contracts.auth import LoginResult, Me
from idp_client import (
    AsyncIdpClient,
    Conflict,
    IdpClient,
    InvalidRequest,
    NotFound,
    Tokens,
    Unauthenticated,
)
from idp_testing.plugin import IdpTenant, TenantFactory

PASSWORD = "a long enough passphrase"


def _slug() -> str:
    return f"c-{uuid.uuid4().hex[:12]}"


async def test_signup_gives_a_typed_login_result_and_the_client_keeps_the_pair(
    idp_base_url: str,
) -> None:
    async with AsyncIdpClient(idp_base_url) as client:
        slug = _slug()
        result = await client.signup(
            slug=slug,
            name="Acme",
            owner_email="owner@example.com",
            owner_password=PASSWORD,
            owner_name="Owner",
            idempotency_key=str(uuid.uuid4()),
        )
        assert isinstance(result, LoginResult)
        assert result.tenant.slug == slug
        assert result.user.role == "owner"
        assert result.access_token
        assert result.refresh_token
        assert client.tokens == Tokens(result.access_token, result.refresh_token)
        me = await client.me()
    assert isinstance(me, Me)
    assert me.user.id == result.user.id
    assert me.role == "owner"
    assert len(me.permissions) == 14


async def test_login_then_explicit_refresh_rotates_the_pair(
    idp_tenant_factory: TenantFactory, idp_base_url: str
) -> None:
    tenant = await idp_tenant_factory()
    async with AsyncIdpClient(idp_base_url) as client:
        login = await client.login(tenant=tenant.slug, email=tenant.email, password=tenant.password)
        assert login.user.id == tenant.login.user.id
        before = client.tokens
        assert before is not None
        rotated = await client.refresh()
        assert rotated.refresh_token != before.refresh_token
        assert client.tokens == Tokens(str(rotated.access_token), rotated.refresh_token)
        assert (await client.me()).user.email == tenant.email


async def test_a_rejected_access_token_is_refreshed_once_for_concurrent_calls(
    idp_tenant_factory: TenantFactory, idp_base_url: str
) -> None:
    tenant = await idp_tenant_factory()
    assert tenant.client.tokens is not None
    refresh_token = tenant.client.tokens.refresh_token
    seen: list[Tokens | None] = []
    async with AsyncIdpClient(
        idp_base_url,
        tokens=Tokens("not-a-valid-access-token", refresh_token),
        on_tokens=seen.append,
    ) as client:
        answers = await asyncio.gather(*(client.me() for _ in range(5)))
        assert {me.user.id for me in answers} == {tenant.login.user.id}
        assert len(seen) == 1, "exactly one refresh for five concurrent 401s"
        assert client.tokens is not None
        assert client.tokens.refresh_token != refresh_token  # the refresh token rotated
        assert client.tokens.access_token != "not-a-valid-access-token"


async def test_when_the_session_is_revoked_the_original_401_is_raised(
    idp_tenant_factory: TenantFactory, idp_base_url: str
) -> None:
    tenant: IdpTenant = await idp_tenant_factory()
    tokens = tenant.client.tokens
    seen: list[Tokens | None] = []
    async with AsyncIdpClient(idp_base_url, tokens=tokens, on_tokens=seen.append) as other:
        await tenant.client.logout()  # the same session, ended by the other holder
        assert tenant.client.tokens is None
        with pytest.raises(Unauthenticated) as caught:
            await other.me(request_id="revoked-me-1")
    assert caught.value.status == 401
    assert caught.value.code == "unauthenticated"
    assert caught.value.request_id == "revoked-me-1"
    assert seen == [], "the failed refresh leaves the client's pair alone"


async def test_typed_errors_for_400_401_404_409(
    idp_tenant_factory: TenantFactory, idp_client: AsyncIdpClient
) -> None:
    tenant = await idp_tenant_factory()
    with pytest.raises(Conflict) as conflict:
        await idp_client.signup(
            slug=tenant.slug,
            name="Again",
            owner_email="x@example.com",
            owner_password=PASSWORD,
            owner_name="X",
            request_id="client-conflict-1",
        )
    assert (conflict.value.status, conflict.value.code) == (409, "conflict")
    assert conflict.value.request_id == "client-conflict-1"

    with pytest.raises(InvalidRequest) as invalid:
        await idp_client.signup(
            slug="NO", name="x", owner_email="nope", owner_password="short", owner_name="x"
        )
    assert invalid.value.code == "invalid_request"
    assert {"slug", "owner.email", "owner.password"} <= {d["field"] for d in invalid.value.details}

    with pytest.raises(Unauthenticated) as bad_login:
        await idp_client.login(tenant=tenant.slug, email=tenant.email, password="wrong password!")
    assert bad_login.value.code == "invalid_credentials"

    with pytest.raises(NotFound) as missing:
        await tenant.client.get_user(uuid.uuid4())
    assert missing.value.code == "not_found"


async def test_an_anonymous_client_gets_401_and_no_refresh_is_tried(
    idp_client: AsyncIdpClient,
) -> None:
    with pytest.raises(Unauthenticated) as caught:
        await idp_client.me()
    assert caught.value.code == "unauthenticated"
    assert idp_client.tokens is None


async def test_the_idempotency_key_reaches_the_edge(idp_client: AsyncIdpClient) -> None:
    with pytest.raises(InvalidRequest) as caught:
        await idp_client.login(
            tenant="acme", email="a@example.com", password="whatever", idempotency_key="k" * 201
        )
    assert "Idempotency-Key" in caught.value.message


async def test_health_and_readiness(idp_client: AsyncIdpClient) -> None:
    await idp_client.healthz()
    ready = await idp_client.readyz()
    assert ready["families"] == dict.fromkeys(("auth", "users", "roles", "files"), "ok")


def test_the_sync_client_does_the_same(idp_base_url: str) -> None:
    slug = _slug()
    with IdpClient(idp_base_url) as client:
        signed_up = client.signup(
            slug=slug,
            name="Sync",
            owner_email="sync@example.com",
            owner_password=PASSWORD,
            owner_name="Sync",
        )
        assert client.me().user.id == signed_up.user.id
        assert client.tokens is not None
        refresh_token = client.tokens.refresh_token
        client.set_tokens(Tokens("garbage", refresh_token))
        assert client.me().tenant.slug == slug  # refreshed behind the scenes
        assert client.tokens.refresh_token != refresh_token
        with pytest.raises(Conflict):
            client.signup(
                slug=slug,
                name="x",
                owner_email="y@example.com",
                owner_password=PASSWORD,
                owner_name="y",
            )
        client.logout()
        assert client.tokens is None
        with pytest.raises(Unauthenticated):
            client.me()
    with pytest.raises(RuntimeError, match="closed"):
        client.me()
