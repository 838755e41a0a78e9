"""Forward an HTTP request as an action and map its reply back to HTTP.

Verifies the access token (signature, claims, revocation), checks the route's permission
and the CSRF rule, builds the contract, publishes it, and turns the reply envelope into
the response. No business logic lives here.
"""

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from contracts.actions import Action
from contracts.auth import AUTH_REFRESH
from contracts.envelope import validation_details
from contracts.errors import ErrorCode
from edge.availability import WorkerPresence
from edge.client_ip import ClientAddress
from edge.cookies import (
    CookieNames,
    clear_session_cookies,
    cookie_names,
    presents_access_token,
    set_session_cookies,
)
from edge.errors import ApiError, error_response, json_response, raw_json_response
from edge.metrics import EdgeMetrics
from edge.origins import UNSAFE_METHODS, OriginPolicy
from edge.request_body import idempotency_key, request_fields
from edge.request_keys import COOKIE_SESSION, PRINCIPAL, REQUEST_ID, SUBJECT, TRACE
from edge.requester import Requester, RpcTimeout, decode_reply
from edge.routes.auth import REFRESH_FROM_COOKIE, SESSION_RESULTS
from edge.routes.model import HttpRoute
from idp.security import address_limit
from idp.security.address_limit import AddressLimit
from idp.security.authn import Authenticator, SessionEnded, bearer_token
from idp.security.client_headers import CLIENT_IP_HEADER, USER_AGENT_HEADER
from idp.security.tokens import TokenError
from idp.settings import Settings

_TOKEN_FIELDS = ("access_token", "refresh_token", "refresh_expires_in")
# How a worker encodes a success (workers/dispatch.py, ``_encode``: orjson, compact).
_OK_PREFIX = b'{"ok":true,"data":'
_OK_EMPTY = _OK_PREFIX + b"null}"


class Gateway:
    def __init__(
        self,
        settings: Settings,
        requester: Requester,
        authenticator: Authenticator,
        metrics: EdgeMetrics,
        address_limit: AddressLimit,
    ) -> None:
        self.settings = settings
        self._address_limit = address_limit
        self._metrics = metrics
        self.requester = requester
        self._authenticator = authenticator
        self._origins = OriginPolicy(settings)
        self._addresses = ClientAddress(settings.trusted_proxies)
        self._cookies = cookie_names(settings)
        self._presence = WorkerPresence(requester, settings.request_timeout_seconds)

    async def close(self) -> None:
        await self._presence.close()

    async def has_worker(self, family: str) -> bool:
        """False when ``family``'s queue was just seen with no consumer (edge.availability)."""
        return await self._presence.available(family)

    @property
    def origins(self) -> OriginPolicy:
        return self._origins

    @property
    def cookies(self) -> CookieNames:
        return self._cookies

    async def forward(self, request: web.Request, route: HttpRoute) -> web.StreamResponse:
        action = route.action
        headers = {
            "x-request-id": request[REQUEST_ID],
            "traceparent": request[TRACE].header,
            USER_AGENT_HEADER: _header_text(request.headers.get("User-Agent", ""))[:512],
        }
        if (ip := self._addresses.of(request)) is not None:
            headers[CLIENT_IP_HEADER] = ip
        if action.authenticated:
            try:
                token = await self._authenticate(request, action)
            except TokenError as refused:
                if not action.ends_own_session or "Authorization" in request.headers:
                    raise
                # A browser idle past the access cookie's 15 minutes still holds the
                # refresh cookie (7 days), which no script can delete: its logout must
                # still end the session, and must clear the cookies whatever happens.
                renewed = await self._access_from_refresh_cookie(request, headers)
                if renewed is None:
                    response = error_response(
                        ApiError(refused.code, str(refused)),
                        request[REQUEST_ID],
                        token_presented=presents_access_token(request, self._cookies),
                    )
                    self._clear_cookies_sent(request, response)
                    return response
                token = renewed
            headers["authorization"] = f"Bearer {token}"
        elif action.key in SESSION_RESULTS:
            self._check_session_csrf(request)
        try:
            payload = await self._checked_payload(request, route)
            message_id = idempotency_key(request)
        except ApiError as refused:
            if action.address_limited and refused.status in (400, 413):
                # Refused here, it reaches no worker to be counted: count it here, so a
                # malformed login counts against its address like any other (SPEC 4.5).
                retry_after = await self._address_limit.count(ip or "-")
                if retry_after is not None:
                    raise ApiError(
                        ErrorCode.RATE_LIMITED, address_limit.LIMITED, retry_after=retry_after
                    ) from None
            raise
        if not await self._presence.available(action.family):
            # Not published: no worker would take it before its budget ran out, and one
            # that came back later would apply what the caller was told had failed.
            raise ApiError(
                ErrorCode.UNAVAILABLE,
                f"no {action.family} worker is available; retry later",
                retry_after=1,
            )
        try:
            body = await self.requester.call_raw(
                action.key, payload, headers=headers, message_id=message_id
            )
        except RpcTimeout:
            self._metrics.rpc_timeouts.labels(action.key).inc()
            raise
        if (
            body.startswith(_OK_PREFIX)
            and body != _OK_EMPTY
            and route.status != 204
            and action.key not in SESSION_RESULTS
            and not action.ends_own_session
            and route.location is None
        ):
            # A plain success: its data goes out as the worker encoded it, without
            # decoding and encoding it again (54 us for a page of 50 users).
            return raw_json_response(body[len(_OK_PREFIX) : -1], status=route.status)
        return self._response(request, route, decode_reply(body))

    async def _authenticate(self, request: web.Request, action: Action) -> str:
        if len(request.headers.getall("Authorization", ())) > 1:
            # A singleton field (RFC 9110 11.6.2): which one counts would depend on who
            # reads it, a proxy in front taking the last, this edge the first.
            raise ApiError(ErrorCode.INVALID_REQUEST, "more than one Authorization header")
        header_token = bearer_token(request.headers.get("Authorization"))
        token = header_token or request.cookies.get(self._cookies.access)
        try:
            claims = await self._authenticator.authenticate(token)
        except SessionEnded as ended:
            # A logout retried with its Idempotency-Key after it ended the session (its
            # answer was lost): the worker answers with the stored reply if the first
            # attempt was applied, and 401 otherwise (workers/dispatch.py).
            if not (action.ends_own_session and request.headers.get("Idempotency-Key")):
                raise
            claims = ended.claims
        request[PRINCIPAL] = claims
        if header_token is None:
            self._check_csrf(request)
        if action.permission is not None and action.permission not in claims.perms:
            raise ApiError(ErrorCode.FORBIDDEN, "permission denied")
        assert token is not None
        return token

    async def _access_from_refresh_cookie(
        self, request: web.Request, headers: dict[str, str]
    ) -> str | None:
        """An access token for the session of the refresh cookie, by a refresh (a logout
        in cookie mode whose access cookie has expired), or None when there is no usable
        cookie. The rotation is what proves the cookie is the session's current one (a
        spent one is reuse, and ends the session as SPEC 4.4 says); the new pair is not
        handed out, since the logout ends its session."""
        cookie = request.cookies.get(self._cookies.refresh)
        if not cookie:
            return None
        self._check_csrf(request)  # a cookie-authenticated write, like any other
        body = await self.requester.call_raw(
            AUTH_REFRESH.key, {"refresh_token": cookie}, headers=headers
        )
        reply = decode_reply(body)
        data = reply.get("data") if reply.get("ok") else None
        token = data.get("access_token") if isinstance(data, dict) else None
        return token if isinstance(token, str) else None

    def _check_csrf(self, request: web.Request) -> None:
        """Cookie-authenticated writes must come from our origin or an allowed one."""
        if request.method in UNSAFE_METHODS and not self._origins.is_same_site_request(request):
            raise ApiError(ErrorCode.CSRF_REJECTED, "cross-site request refused")

    def _check_session_csrf(self, request: web.Request) -> None:
        """Login CSRF: a page of another site must not log the browser into an account
        of the attacker's choosing (a login or sign-up in cookie mode sets the cookies).
        A browser always names the page's origin on a cross-site POST; clients that name
        none (CLIs, servers) and bearer mode, which sets no cookie, are not concerned."""
        if _bearer_mode(request):
            return
        if "Origin" in request.headers or "Referer" in request.headers:
            self._check_csrf(request)

    async def _checked_payload(self, request: web.Request, route: HttpRoute) -> dict[str, Any]:
        """The request's fields (body, path, query; a refresh token from its cookie),
        checked against the action's contract: a 400 costs no broker hop."""
        action = route.action
        payload = await request_fields(
            request, route, self.settings.max_body_bytes, self.settings.request_timeout_seconds
        )
        if action.key in REFRESH_FROM_COOKIE and "refresh_token" not in payload:
            cookie = request.cookies.get(self._cookies.refresh)
            if cookie:
                self._check_csrf(request)
                payload["refresh_token"] = cookie
                # A session held in cookies stays there: ``X-Auth-Mode: bearer`` must not
                # turn the HttpOnly cookie into tokens a script can read (SPEC 4.1).
                request[COOKIE_SESSION] = True
        if action.key in REFRESH_FROM_COOKIE and payload.get("refresh_token") in (None, ""):
            # No token in the body nor in the cookie (a client after logout): a missing
            # token is a 401 (SPEC 4), so the client knows to log in again.
            raise ApiError(ErrorCode.UNAUTHENTICATED, "no refresh token: log in again")
        try:
            action.request.model_validate(payload)
        except ValidationError as exc:
            raise ApiError(
                ErrorCode.INVALID_REQUEST,
                "request failed validation",
                details=validation_details(exc),
            ) from None
        return payload

    def _response(
        self, request: web.Request, route: HttpRoute, reply: dict[str, Any]
    ) -> web.StreamResponse:
        key = route.action.key
        if not reply.get("ok"):
            error = reply.get("error") or {}
            try:
                code = ErrorCode(str(error.get("code")))
            except ValueError:
                code = ErrorCode.INTERNAL
            api_error = ApiError(
                code,
                str(error.get("message", "request failed")),
                status=int(error.get("status", 500)),
                details=error.get("details"),
                retry_after=error.get("retry_after"),
            )
            response = error_response(
                api_error,
                request[REQUEST_ID],
                token_presented=route.action.authenticated
                and presents_access_token(request, self._cookies),
            )
            if route.action.ends_own_session or (
                key in SESSION_RESULTS and api_error.status == 401
            ):
                self._clear_cookies_sent(request, response)
            return response
        data = reply.get("data")
        if route.status == 204 or data is None:
            # A body-less success: 202 (accepted, e.g. reset requests) or 204.
            response = web.Response(status=202 if route.status == 202 else 204)
            if route.action.ends_own_session:
                self._clear_cookies_sent(request, response)
            return response
        if key in SESSION_RESULTS and isinstance(data, dict):
            request[SUBJECT] = (data["tenant"]["id"], data["user"]["id"])
            if _bearer_mode(request) and not request.get(COOKIE_SESSION, False):
                response = json_response(data, status=route.status)
            else:
                body = {k: v for k, v in data.items() if k not in _TOKEN_FIELDS}
                response = json_response(body, status=route.status)
                set_session_cookies(
                    response,
                    self.settings,
                    access_token=data["access_token"],
                    access_max_age=int(data["expires_in"]),
                    refresh_token=data["refresh_token"],
                    refresh_max_age=int(data["refresh_expires_in"]),
                )
            response.headers["Cache-Control"] = "no-store"  # RFC 6749 5.1: tokens
            response.headers["Pragma"] = "no-cache"
        else:
            response = json_response(data, status=route.status)
        if route.location is not None and isinstance(data, dict):
            response.headers["Location"] = route.location(data)  # RFC 9110 15.3.2
        return response

    def _clear_cookies_sent(self, request: web.Request, response: web.StreamResponse) -> None:
        """An ended or refused session clears the session cookies the client sent; a
        bearer client that sent none gets no Set-Cookie (SPEC 4.1)."""
        names = self._cookies
        if request.cookies.get(names.access) or request.cookies.get(names.refresh):
            clear_session_cookies(response, self.settings)


def _bearer_mode(request: web.Request) -> bool:
    """``X-Auth-Mode: bearer``: tokens in the body, no cookie (SPEC 4.1)."""
    return request.headers.get("X-Auth-Mode", "").lower() == "bearer"


def _header_text(value: str) -> str:
    """A header as text an AMQP header can carry: aiohttp keeps bytes that are not UTF-8
    as lone surrogates, which the broker client cannot encode (a 500 otherwise)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
