"""``AsyncIdpClient``: one typed method per SPEC 4.3 route, in bearer mode.

Results are the contract models the route's action answers with (``contracts/``): a
``Page`` of them for keyset-paginated lists, a plain list for the other lists (taken from
the contract's ``{"items": [...]}``), and None for 202/204 answers. A success body that
does not match its model raises ``pydantic.ValidationError``. Only the operational routes,
which have no contract model, give a decoded JSON object (``Json``) or text.
The methods are grouped by route family (``account``, ``admin``, ``files``); this class
adds the connection and the operational routes. Every method takes ``request_id`` (sent
as ``X-Request-ID``); every POST method also takes ``idempotency_key`` (sent as
``Idempotency-Key``: a retried write applies once).
"""

from types import TracebackType
from typing import Self

from idp_client.account import AccountRoutes
from idp_client.admin import AdminRoutes
from idp_client.files import FileRoutes
from idp_client.models import Json, Tokens
from idp_client.transport import TokenListener, Transport


class AsyncIdpClient(AccountRoutes, AdminRoutes, FileRoutes):
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

    # --- operational routes ----------------------------------------------------------

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
