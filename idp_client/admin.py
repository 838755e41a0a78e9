"""The tenant administration routes: the tenant, its users, roles and audit trail."""

from contracts.models import Tenant, User
from contracts.roles import PermissionCatalogue, PermissionView, Role, RoleList
from contracts.sessions import SessionList, SessionView
from contracts.users import AuditEntry
from idp_client.models import Json, Page
from idp_client.routes import Id, Routes, fields, seg


class AdminRoutes(Routes):
    """The administration routes of ``AsyncIdpClient`` (each needs its permission)."""

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
            "PATCH", "/v1/tenant", json=fields(name=name, settings=settings), request_id=request_id
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
            json=fields(email=email, name=name, role=role, password=password),
            idempotency_key=idempotency_key,
            request_id=request_id,
        )
        return User.model_validate(body)

    async def get_user(self, user_id: Id, *, request_id: str | None = None) -> User:
        """``GET /v1/users/{id}``."""
        body = await self._t.call("GET", f"/v1/users/{seg(user_id)}", request_id=request_id)
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
            f"/v1/users/{seg(user_id)}",
            json=fields(name=name, status=status),
            request_id=request_id,
        )
        return User.model_validate(body)

    async def delete_user(self, user_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/users/{id}``."""
        await self._t.call("DELETE", f"/v1/users/{seg(user_id)}", request_id=request_id)

    async def set_user_role(self, user_id: Id, role: str, *, request_id: str | None = None) -> User:
        """``PUT /v1/users/{id}/role``: the user with the new role."""
        body = await self._t.call(
            "PUT", f"/v1/users/{seg(user_id)}/role", json={"role": role}, request_id=request_id
        )
        return User.model_validate(body)

    async def list_user_sessions(
        self, user_id: Id, *, request_id: str | None = None
    ) -> list[SessionView]:
        """``GET /v1/users/{id}/sessions``."""
        body = await self._t.call(
            "GET", f"/v1/users/{seg(user_id)}/sessions", request_id=request_id
        )
        return SessionList.model_validate(body).items

    async def revoke_user_sessions(self, user_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/users/{id}/sessions``: ends every session of that user."""
        await self._t.call("DELETE", f"/v1/users/{seg(user_id)}/sessions", request_id=request_id)

    # --- roles ------------------------------------------------------------------------

    async def list_roles(self, *, request_id: str | None = None) -> list[Role]:
        """``GET /v1/roles``."""
        body = await self._t.call("GET", "/v1/roles", request_id=request_id)
        return RoleList.model_validate(body).items

    async def get_role(self, role_id: Id, *, request_id: str | None = None) -> Role:
        """``GET /v1/roles/{id}``."""
        body = await self._t.call("GET", f"/v1/roles/{seg(role_id)}", request_id=request_id)
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
            json=fields(name=name, description=description, permissions=permissions),
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
            f"/v1/roles/{seg(role_id)}",
            json=fields(name=name, description=description, permissions=permissions),
            request_id=request_id,
        )
        return Role.model_validate(body)

    async def delete_role(self, role_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/roles/{id}`` (409 while the role is in use)."""
        await self._t.call("DELETE", f"/v1/roles/{seg(role_id)}", request_id=request_id)

    async def list_permissions(self, *, request_id: str | None = None) -> list[PermissionView]:
        """``GET /v1/permissions``: the catalogue, each permission with its description."""
        body = await self._t.call("GET", "/v1/permissions", request_id=request_id)
        return PermissionCatalogue.model_validate(body).items

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
