"""Values the middleware and the gateway keep on a request."""

from aiohttp import web

from idp.security.tokens import AccessClaims
from idp.tracing import TraceContext

REQUEST_ID = web.RequestKey("request_id", str)
PRINCIPAL = web.RequestKey("principal", AccessClaims)
# The tenant and user a login, sign-up or refresh turned out to be, for the log line.
SUBJECT = web.RequestKey("subject", tuple)
TRACE = web.RequestKey("trace", TraceContext)
# The refresh token came from its cookie: the answer sets cookies whatever X-Auth-Mode says.
COOKIE_SESSION = web.RequestKey("cookie_session", bool)
