"""``AsyncIdpClient``: one typed method per SPEC 4.3 route, in bearer mode.

Results are the contract models the route's action answers with (``contracts/``): a
``Page`` of them for keyset-paginated lists, a plain list for the other lists (taken from
the contract's ``{"items": [...]}``), and None for 202/204 answers. A success body that
does not match its model raises ``pydantic.ValidationError``. Only the operational routes,
which have no contract model, give a decoded JSON object (``Json``) or text.
Every method takes ``request_id`` (sent as ``X-Request-ID``); every POST method also
takes ``idempotency_key`` (sent as ``Idempotency-Key``: a retried write applies once).
"""

from types import TracebackType
from typing import Any, Self
from urllib.parse import quote
from uuid import UUID

from contracts.auth import LoginResult, Me
from contracts.files import CreatedFile, File, FileDetail
from contracts.models import Tenant, User
from contracts.roles import PermissionCatalogue, PermissionView, Role, RoleList
from contracts.sessions import SessionList, SessionView
from contracts.users import AuditEntry
from idp_client.models import Json, Page, Tokens
from idp_client.transport import TokenListener, Transport

Id = UUID | str


def _seg(value: Id) -> str:
    return quote(str(value), safe="")


def _fields(**values: Any) -> Json:
    """The fields that were given (a PATCH changes only those)."""
    return {k: v for k, v in values.items() if v is not None}


class AsyncIdpClient:
    """Async client of the idp HTTP API; use ``async with`` or call ``close()``."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: Tokens | None = None,
        timeout: float = 30.0,
        on_tokens: TokenListener | None = None,
        user_agent: str = "idp-client",
    ) -> None:
        self._t = Transport(
            base_url, tokens=tokens, timeout=timeout, on_tokens=on_tokens, user_agent=user_agent
        )

    @property
    def base_url(self) -> str:
        return self._t.base_url

    @property
    def tokens(self) -> Tokens | None:
        """The bearer pair in use (rotated by every refresh)."""
        return self._t.tokens

    def set_tokens(self, tokens: Tokens | None) -> None:
        self._t.set_tokens(tokens)

    async def close(self) -> None:
        await self._t.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _login_result(self, body: Any) -> LoginResult:
        self._t.keep_tokens_of(body)
        return LoginResult.model_validate(body)

    # --- public routes ---------------------------------------------------------------

    async def signup(
        self,
        *,
        slug: str,
        name: str,
        owner_email: str,
        owner_password: str,
        owner_name: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> LoginResult:
        """``POST /v1/tenants``: a new tenant with its owner logged in (this client)."""
        owner = {"email": owner_email, "password": owner_password, "name": owner_name}
        body = await self._t.call(
            "POST",
            "/v1/tenants",
            json={"slug": slug, "name": name, "owner": owner},
            authenticated=False,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return await self._login_result(body)

    async def login(
        self,
        *,
        tenant: str,
        email: str,
        password: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> LoginResult:
        """``POST /v1/auth/login``; the client keeps the pair."""
        body = await self._t.call(
            "POST",
            "/v1/auth/login",
            json={"tenant": tenant, "email": email, "password": password},
            authenticated=False,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return await self._login_result(body)

    async def refresh(
        self,
        refresh_token: str | None = None,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> LoginResult:
        """``POST /v1/auth/refresh`` with the given token, else the one the client holds."""
        token = refresh_token or (self.tokens.refresh_token if self.tokens else None)
        if token is None:
            raise ValueError("no refresh token given or held")
        body = await self._t.call(
            "POST",
            "/v1/auth/refresh",
            json={"refresh_token": token},
            authenticated=False,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return await self._login_result(body)

    async def request_password_reset(
        self,
        *,
        tenant: str,
        email: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """``POST /v1/auth/password-reset/request`` (always 202)."""
        await self._t.call(
            "POST",
            "/v1/auth/password-reset/request",
            json={"tenant": tenant, "email": email},
            authenticated=False,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )

    async def confirm_password_reset(
        self,
        *,
        token: str,
        new_password: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """``POST /v1/auth/password-reset/confirm`` (204; also completes an invitation)."""
        await self._t.call(
            "POST",
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": new_password},
            authenticated=False,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )

    async def confirm_email_verification(
        self, *, token: str, idempotency_key: str | None = None, request_id: str | None = None
    ) -> None:
        """``POST /v1/auth/verify-email/confirm`` (204)."""
        await self._t.call(
            "POST",
            "/v1/auth/verify-email/confirm",
            json={"token": token},
            authenticated=False,
            idempotency_key=idempotency_key,
            request_id=request_id,
        )

    async def healthz(self, *, request_id: str | None = None) -> Json:
        """``GET /healthz``."""
        body = await self._t.call("GET", "/healthz", authenticated=False, request_id=request_id)
        return body if isinstance(body, dict) else {}

    async def readyz(self, *, request_id: str | None = None) -> Json:
        """``GET /readyz``: raises ``Unavailable`` while not every family answers."""
        body = await self._t.call("GET", "/readyz", authenticated=False, request_id=request_id)
        return body if isinstance(body, dict) else {}

    async def openapi(self, *, request_id: str | None = None) -> Json:
        """``GET /openapi.json``."""
        body = await self._t.call(
            "GET", "/openapi.json", authenticated=False, request_id=request_id
        )
        return body if isinstance(body, dict) else {}

    async def docs(self, *, request_id: str | None = None) -> str:
        """``GET /docs``: the HTML page rendering the OpenAPI document."""
        return str(await self._t.call("GET", "/docs", authenticated=False, request_id=request_id))

    async def metrics(self, *, request_id: str | None = None) -> str:
        """``GET /metrics``: Prometheus text format."""
        body = await self._t.call("GET", "/metrics", authenticated=False, request_id=request_id)
        return str(body or "")

    # --- authenticated, any role ------------------------------------------------------

    async def me(self, *, request_id: str | None = None) -> Me:
        """``GET /v1/auth/me``."""
        return Me.model_validate(await self._t.call("GET", "/v1/auth/me", request_id=request_id))

    async def logout(
        self, *, idempotency_key: str | None = None, request_id: str | None = None
    ) -> None:
        """``POST /v1/auth/logout``: ends this session; the client drops its pair."""
        await self._t.call(
            "POST", "/v1/auth/logout", idempotency_key=idempotency_key, request_id=request_id
        )
        self.set_tokens(None)

    async def logout_all(
        self, *, idempotency_key: str | None = None, request_id: str | None = None
    ) -> None:
        """``POST /v1/auth/logout-all``: ends every session of this user."""
        await self._t.call(
            "POST", "/v1/auth/logout-all", idempotency_key=idempotency_key, request_id=request_id
        )
        self.set_tokens(None)

    async def list_sessions(self, *, request_id: str | None = None) -> list[SessionView]:
        """``GET /v1/auth/sessions``: own live sessions."""
        body = await self._t.call("GET", "/v1/auth/sessions", request_id=request_id)
        return SessionList.model_validate(body).items

    async def revoke_session(self, session_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/auth/sessions/{id}``."""
        await self._t.call("DELETE", f"/v1/auth/sessions/{_seg(session_id)}", request_id=request_id)

    async def change_password(
        self,
        *,
        current_password: str,
        new_password: str,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """``POST /v1/auth/password`` (204; ends every other session)."""
        await self._t.call(
            "POST",
            "/v1/auth/password",
            json={"current_password": current_password, "new_password": new_password},
            idempotency_key=idempotency_key,
            request_id=request_id,
        )

    async def request_email_verification(
        self, *, idempotency_key: str | None = None, request_id: str | None = None
    ) -> None:
        """``POST /v1/auth/verify-email/request`` (202)."""
        await self._t.call(
            "POST",
            "/v1/auth/verify-email/request",
            idempotency_key=idempotency_key,
            request_id=request_id,
        )

    # --- tenant -----------------------------------------------------------------------

    async def get_tenant(self, *, request_id: str | None = None) -> Tenant:
        """``GET /v1/tenant``."""
        body = await self._t.call("GET", "/v1/tenant", request_id=request_id)
        return Tenant.model_validate(body)

    async def update_tenant(
        self,
        *,
        name: str | None = None,
        settings: Json | None = None,
        request_id: str | None = None,
    ) -> Tenant:
        """``PATCH /v1/tenant``: only the given fields change."""
        body = await self._t.call(
            "PATCH", "/v1/tenant", json=_fields(name=name, settings=settings), request_id=request_id
        )
        return Tenant.model_validate(body)

    # --- users ------------------------------------------------------------------------

    async def list_users(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        q: str | None = None,
        role: str | None = None,
        status: str | None = None,
        request_id: str | None = None,
    ) -> Page[User]:
        """``GET /v1/users``: one page, newest cursor in ``next_cursor``."""
        body = await self._t.call(
            "GET",
            "/v1/users",
            query={"limit": limit, "cursor": cursor, "q": q, "role": role, "status": status},
            request_id=request_id,
        )
        return Page[User].model_validate(body)

    async def create_user(
        self,
        *,
        email: str,
        name: str,
        role: str,
        password: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> User:
        """``POST /v1/users``: without a password the user is ``invited``."""
        body = await self._t.call(
            "POST",
            "/v1/users",
            json=_fields(email=email, name=name, role=role, password=password),
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return User.model_validate(body)

    async def get_user(self, user_id: Id, *, request_id: str | None = None) -> User:
        """``GET /v1/users/{id}``."""
        body = await self._t.call("GET", f"/v1/users/{_seg(user_id)}", request_id=request_id)
        return User.model_validate(body)

    async def update_user(
        self,
        user_id: Id,
        *,
        name: str | None = None,
        status: str | None = None,
        request_id: str | None = None,
    ) -> User:
        """``PATCH /v1/users/{id}``: ``name`` and/or ``status`` (``active``/``disabled``)."""
        body = await self._t.call(
            "PATCH",
            f"/v1/users/{_seg(user_id)}",
            json=_fields(name=name, status=status),
            request_id=request_id,
        )
        return User.model_validate(body)

    async def delete_user(self, user_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/users/{id}``."""
        await self._t.call("DELETE", f"/v1/users/{_seg(user_id)}", request_id=request_id)

    async def set_user_role(self, user_id: Id, role: str, *, request_id: str | None = None) -> User:
        """``PUT /v1/users/{id}/role``: the user with the new role."""
        body = await self._t.call(
            "PUT", f"/v1/users/{_seg(user_id)}/role", json={"role": role}, request_id=request_id
        )
        return User.model_validate(body)

    async def list_user_sessions(
        self, user_id: Id, *, request_id: str | None = None
    ) -> list[SessionView]:
        """``GET /v1/users/{id}/sessions``."""
        body = await self._t.call(
            "GET", f"/v1/users/{_seg(user_id)}/sessions", request_id=request_id
        )
        return SessionList.model_validate(body).items

    async def revoke_user_sessions(self, user_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/users/{id}/sessions``: ends every session of that user."""
        await self._t.call("DELETE", f"/v1/users/{_seg(user_id)}/sessions", request_id=request_id)

    # --- roles ------------------------------------------------------------------------

    async def list_roles(self, *, request_id: str | None = None) -> list[Role]:
        """``GET /v1/roles``."""
        body = await self._t.call("GET", "/v1/roles", request_id=request_id)
        return RoleList.model_validate(body).items

    async def get_role(self, role_id: Id, *, request_id: str | None = None) -> Role:
        """``GET /v1/roles/{id}``."""
        body = await self._t.call("GET", f"/v1/roles/{_seg(role_id)}", request_id=request_id)
        return Role.model_validate(body)

    async def create_role(
        self,
        *,
        name: str,
        permissions: list[str],
        description: str | None = None,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Role:
        """``POST /v1/roles``: a custom role."""
        body = await self._t.call(
            "POST",
            "/v1/roles",
            json=_fields(name=name, description=description, permissions=permissions),
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return Role.model_validate(body)

    async def update_role(
        self,
        role_id: Id,
        *,
        name: str | None = None,
        description: str | None = None,
        permissions: list[str] | None = None,
        request_id: str | None = None,
    ) -> Role:
        """``PATCH /v1/roles/{id}``: only the given fields change."""
        body = await self._t.call(
            "PATCH",
            f"/v1/roles/{_seg(role_id)}",
            json=_fields(name=name, description=description, permissions=permissions),
            request_id=request_id,
        )
        return Role.model_validate(body)

    async def delete_role(self, role_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/roles/{id}`` (409 while the role is in use)."""
        await self._t.call("DELETE", f"/v1/roles/{_seg(role_id)}", request_id=request_id)

    async def list_permissions(self, *, request_id: str | None = None) -> list[PermissionView]:
        """``GET /v1/permissions``: the catalogue, each permission with its description."""
        body = await self._t.call("GET", "/v1/permissions", request_id=request_id)
        return PermissionCatalogue.model_validate(body).items

    # --- files ------------------------------------------------------------------------

    async def create_file(
        self,
        *,
        filename: str,
        content_type: str,
        size: int,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> CreatedFile:
        """``POST /v1/files``: the ``pending`` file and the presigned ``upload`` of its bytes."""
        body = await self._t.call(
            "POST",
            "/v1/files",
            json={"filename": filename, "content_type": content_type, "size": size},
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return CreatedFile.model_validate(body)

    async def complete_file(
        self,
        file_id: Id,
        *,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> File:
        """``POST /v1/files/{id}/complete``: checks the upload and marks the file ``ready``."""
        body = await self._t.call(
            "POST",
            f"/v1/files/{_seg(file_id)}/complete",
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return File.model_validate(body)

    async def list_files(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        request_id: str | None = None,
    ) -> Page[File]:
        """``GET /v1/files``."""
        body = await self._t.call(
            "GET", "/v1/files", query={"limit": limit, "cursor": cursor}, request_id=request_id
        )
        return Page[File].model_validate(body)

    async def get_file(self, file_id: Id, *, request_id: str | None = None) -> FileDetail:
        """``GET /v1/files/{id}``, with a presigned ``download_url`` once it is ready."""
        body = await self._t.call("GET", f"/v1/files/{_seg(file_id)}", request_id=request_id)
        return FileDetail.model_validate(body)

    async def delete_file(self, file_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/files/{id}``."""
        await self._t.call("DELETE", f"/v1/files/{_seg(file_id)}", request_id=request_id)

    # --- audit ------------------------------------------------------------------------

    async def list_audit(
        self,
        *,
        limit: int | None = None,
        cursor: str | None = None,
        action: str | None = None,
        request_id: str | None = None,
    ) -> Page[AuditEntry]:
        """``GET /v1/audit``: the tenant's audit trail, newest first."""
        body = await self._t.call(
            "GET",
            "/v1/audit",
            query={"limit": limit, "cursor": cursor, "action": action},
            request_id=request_id,
        )
        return Page[AuditEntry].model_validate(body)
