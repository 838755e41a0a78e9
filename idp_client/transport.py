"""HTTP transport of the client: bearer mode, the token pair, and automatic refresh.

One ``aiohttp.ClientSession`` per transport, opened lazily in the running loop. When an
authenticated call gets 401 ``token_expired`` or ``unauthenticated`` and a refresh token
is at hand, the transport rotates the pair once (a lock makes concurrent callers share
one refresh) and repeats the call; if the refresh fails, the original error is raised.
"""

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from idp_client.errors import IdpError, error_from_response
from idp_client.models import Tokens

REFRESH_PATH = "/v1/auth/refresh"
# 401 codes after which a refresh may help; invalid_credentials and refresh_token_reused
# are final.
_REFRESHABLE = frozenset({"token_expired", "unauthenticated"})

TokenListener = Callable[[Tokens | None], None]
Query = Mapping[str, str | int | None]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: Any
    headers: Mapping[str, str]


class Transport:
    def __init__(
        self,
        base_url: str,
        *,
        tokens: Tokens | None = None,
        timeout: float = 30.0,
        on_tokens: TokenListener | None = None,
        user_agent: str = "idp-client",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._tokens = tokens
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._on_tokens = on_tokens
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._refresh_lock = asyncio.Lock()
        # The pair whose refresh failed: concurrent waiters do not present it again.
        self._dead: Tokens | None = None

    @property
    def tokens(self) -> Tokens | None:
        return self._tokens

    def set_tokens(self, tokens: Tokens | None) -> None:
        self._tokens = tokens
        if self._on_tokens is not None:
            self._on_tokens(tokens)

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                cookie_jar=aiohttp.DummyCookieJar(),  # bearer mode: cookies play no part
                headers={"User-Agent": self._user_agent, "Accept": "application/json"},
            )
        return self._session

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Mapping[str, Any] | None = None,
        query: Query | None = None,
        authenticated: bool = True,
        idempotency_key: str | None = None,
        request_id: str | None = None,
    ) -> Any:
        """Send one request and return its decoded body (None when it has none)."""
        sent_with = self._tokens if authenticated else None
        try:
            answer = await self._send(
                method, path, json, query, sent_with, idempotency_key, request_id
            )
            return _body_or_raise(answer)
        except IdpError as error:
            if not (
                error.status == 401
                and error.code in _REFRESHABLE
                and sent_with is not None
                and sent_with.refresh_token is not None
            ):
                raise
            fresh = await self._refreshed_after(sent_with, request_id)
            if fresh is None:
                raise
        answer = await self._send(method, path, json, query, fresh, idempotency_key, request_id)
        return _body_or_raise(answer)

    async def refresh(self, refresh_token: str, *, request_id: str | None = None) -> Any:
        """Rotate ``refresh_token``; the new pair becomes the client's."""
        answer = await self._send(
            "POST", REFRESH_PATH, {"refresh_token": refresh_token}, None, None, None, request_id
        )
        body = _body_or_raise(answer)
        self.keep_tokens_of(body)
        return body

    def keep_tokens_of(self, login_result: Any) -> None:
        """Hold the pair a login result carries (bearer mode always carries one)."""
        if isinstance(login_result, dict) and login_result.get("access_token"):
            self.set_tokens(Tokens(login_result["access_token"], login_result.get("refresh_token")))

    async def _refreshed_after(self, stale: Tokens, request_id: str | None) -> Tokens | None:
        """The pair to retry with, refreshing at most once for every caller that saw ``stale``."""
        async with self._refresh_lock:
            current = self._tokens
            if current is not None and current != stale and current != self._dead:
                return current  # another caller refreshed while this one waited
            if stale == self._dead or stale.refresh_token is None:
                return None
            try:
                await self.refresh(stale.refresh_token, request_id=request_id)
            except IdpError:
                self._dead = stale
                return None
            return self._tokens

    async def _send(
        self,
        method: str,
        path: str,
        json: Mapping[str, Any] | None,
        query: Query | None,
        tokens: Tokens | None,
        idempotency_key: str | None,
        request_id: str | None,
    ) -> Answer:
        headers = {"X-Auth-Mode": "bearer"}
        if tokens is not None:
            headers["Authorization"] = f"Bearer {tokens.access_token}"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if request_id is not None:
            headers["X-Request-ID"] = request_id
        params = {k: str(v) for k, v in (query or {}).items() if v is not None}
        try:
            async with self._http().request(
                method,
                self.base_url + path,
                json=dict(json) if json is not None else None,
                params=params or None,
                headers=headers,
            ) as response:
                raw = await response.read()
                body: Any = None
                if raw:
                    if response.content_type == "application/json":
                        body = await response.json(content_type=None)
                    else:
                        body = raw.decode(response.charset or "utf-8", errors="replace")
                return Answer(response.status, body, response.headers.copy())
        except TimeoutError:
            raise error_from_response(
                504, {"error": {"code": "timeout", "message": "no answer in time"}}
            ) from None
        except aiohttp.ClientConnectionError as exc:
            raise error_from_response(
                503, {"error": {"code": "unavailable", "message": f"cannot reach edge: {exc}"}}
            ) from exc


def _body_or_raise(answer: Answer) -> Any:
    if answer.status >= 400:
        raise error_from_response(
            answer.status,
            answer.body,
            request_id=answer.headers.get("X-Request-ID"),
            retry_after=answer.headers.get("Retry-After"),
        )
    return answer.body
