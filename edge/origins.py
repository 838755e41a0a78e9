"""Origin checks: CSRF for cookie-authenticated writes and CORS, one allow-list (SPEC 4.1)."""

from urllib.parse import urlsplit

from aiohttp import web

from idp.settings import Settings

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class OriginPolicy:
    def __init__(self, settings: Settings) -> None:
        self._own = settings.public_origin
        # With EDGE_PUBLIC_URL set, our scheme is known: a page served over the other
        # scheme at our host (http:// beside an https:// edge) is not us.
        self._scheme = urlsplit(self._own).scheme if settings.edge_public_url else None
        self._allowed = frozenset(settings.cors_allowed_origins)

    @property
    def cors_enabled(self) -> bool:
        """Whether any origin is allowed, i.e. whether answers differ by ``Origin``."""
        return bool(self._allowed)

    def is_cors_allowed(self, origin: str) -> bool:
        return origin in self._allowed

    def is_same_site_request(self, request: web.Request) -> bool:
        """True when ``Origin`` (or, failing that, ``Referer``) names us or an allowed origin.

        "Us" is ``EDGE_PUBLIC_URL`` and also the host the request was sent to (its ``Host``
        header), so that http://localhost:3001 and http://127.0.0.1:3001 both work for a
        local edge; with ``EDGE_PUBLIC_URL`` set, only over its scheme. (Without it the
        scheme is not compared: behind a TLS-terminating proxy the browser says https
        while the edge sees http.) A browser never lets a page forge ``Origin``, so a
        cross-site page cannot name our host there.
        """
        origin = request.headers.get("Origin")
        if origin is None or origin == "null":
            referer = request.headers.get("Referer")
            if not referer:
                return False
            parts = urlsplit(referer)
            if not parts.scheme or not parts.netloc:
                return False
            origin = f"{parts.scheme}://{parts.netloc}"
        origin = origin.rstrip("/")
        if origin == self._own or origin in self._allowed:
            return True
        parts = urlsplit(origin)
        return (
            parts.scheme in ("http", "https")
            and (self._scheme is None or parts.scheme == self._scheme)
            and bool(parts.netloc)
            and (parts.netloc == request.host)
        )
