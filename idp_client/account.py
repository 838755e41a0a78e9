"""The account's routes: sign-up, login, refresh, password and email flows (public),
and what any signed-in user may do with their own session and password."""

from typing import Any

from contracts.auth import LoginResult, Me
from contracts.sessions import SessionList, SessionView
from idp_client.routes import Id, Routes, seg


class AccountRoutes(Routes):
    """The account routes of ``AsyncIdpClient``; a login keeps the pair it gets."""

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
        token = refresh_token or (self._t.tokens.refresh_token if self._t.tokens else None)
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
        self._t.set_tokens(None)

    async def logout_all(
        self, *, idempotency_key: str | None = None, request_id: str | None = None
    ) -> None:
        """``POST /v1/auth/logout-all``: ends every session of this user."""
        await self._t.call(
            "POST", "/v1/auth/logout-all", idempotency_key=idempotency_key, request_id=request_id
        )
        self._t.set_tokens(None)

    async def list_sessions(self, *, request_id: str | None = None) -> list[SessionView]:
        """``GET /v1/auth/sessions``: own live sessions."""
        body = await self._t.call("GET", "/v1/auth/sessions", request_id=request_id)
        return SessionList.model_validate(body).items

    async def revoke_session(self, session_id: Id, *, request_id: str | None = None) -> None:
        """``DELETE /v1/auth/sessions/{id}``."""
        await self._t.call("DELETE", f"/v1/auth/sessions/{seg(session_id)}", request_id=request_id)

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
