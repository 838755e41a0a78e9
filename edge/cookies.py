"""Cookie mode (SPEC 4.1): tokens travel only as HttpOnly cookies."""

from dataclasses import dataclass

from aiohttp import web

from idp.settings import Settings

ACCESS_PATH = "/"
REFRESH_PATH = "/v1/auth"


@dataclass(frozen=True, slots=True)
class CookieNames:
    access: str
    refresh: str


def cookie_names(settings: Settings) -> CookieNames:
    if settings.cookie_secure:
        return CookieNames("__Host-idp_access", "__Secure-idp_refresh")
    return CookieNames("idp_access", "idp_refresh")


def presents_access_token(request: web.Request, names: CookieNames) -> bool:
    """Whether the request carried an access token at all, as a header or a cookie: a
    401 then says the token was refused (RFC 6750 3.1), not only that one is needed."""
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return True
    return names.access in request.cookies


def set_session_cookies(
    response: web.StreamResponse,
    settings: Settings,
    *,
    access_token: str,
    access_max_age: int,
    refresh_token: str,
    refresh_max_age: int,
) -> None:
    names = cookie_names(settings)
    secure = settings.cookie_secure
    response.set_cookie(
        names.access,
        access_token,
        path=ACCESS_PATH,
        max_age=access_max_age,
        httponly=True,
        secure=secure,
        samesite="Lax",
    )
    response.set_cookie(
        names.refresh,
        refresh_token,
        path=REFRESH_PATH,
        max_age=refresh_max_age,
        httponly=True,
        secure=secure,
        samesite="Strict",
    )


def clear_session_cookies(response: web.StreamResponse, settings: Settings) -> None:
    names = cookie_names(settings)
    secure = settings.cookie_secure
    response.set_cookie(
        names.access, "", path=ACCESS_PATH, max_age=0, httponly=True, secure=secure, samesite="Lax"
    )
    response.set_cookie(
        names.refresh,
        "",
        path=REFRESH_PATH,
        max_age=0,
        httponly=True,
        secure=secure,
        samesite="Strict",
    )
