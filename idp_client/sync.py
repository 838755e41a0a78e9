"""``IdpClient``: the async client's methods, blocking, on a private loop in a thread.

Each method submits the matching ``AsyncIdpClient`` coroutine to the client's own event
loop (running in a daemon thread) and waits for it, so the facade works the same from
plain scripts, threads and code that already runs an event loop.
"""

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from idp_client.client import AsyncIdpClient
from idp_client.models import Tokens
from idp_client.transport import TokenListener

P = ParamSpec("P")
R = TypeVar("R")


class _Blocking(Generic[P, R]):
    """A descriptor turning one ``AsyncIdpClient`` method into a blocking one."""

    def __init__(
        self, method: Callable[Concatenate[AsyncIdpClient, P], Coroutine[Any, Any, R]]
    ) -> None:
        self._method = method
        self.__doc__ = method.__doc__
        self.name = method.__name__

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Self: ...

    @overload
    def __get__(self, obj: "IdpClient", owner: type[Any]) -> Callable[P, R]: ...

    def __get__(self, obj: "IdpClient | None", owner: type[Any]) -> "Self | Callable[P, R]":
        if obj is None:
            return self
        method, client = self._method, obj

        def blocking(*args: P.args, **kwargs: P.kwargs) -> R:
            return client.run(method(client.aio, *args, **kwargs))

        blocking.__name__ = self.name
        blocking.__doc__ = self.__doc__
        return blocking


class IdpClient:
    """Blocking client of the idp HTTP API; use ``with`` or call ``close()``."""

    def __init__(
        self,
        base_url: str,
        *,
        tokens: Tokens | None = None,
        timeout: float = 30.0,
        on_tokens: TokenListener | None = None,
        user_agent: str = "idp-client",
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="idp-client-loop", daemon=True
        )
        self._thread.start()
        self.aio = AsyncIdpClient(
            base_url, tokens=tokens, timeout=timeout, on_tokens=on_tokens, user_agent=user_agent
        )
        self._closed = False

    def run(self, coroutine: Coroutine[Any, Any, R]) -> R:
        """Run one coroutine on the client's loop and wait for its result."""
        if self._closed:
            coroutine.close()
            raise RuntimeError("the client is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    @property
    def base_url(self) -> str:
        return self.aio.base_url

    @property
    def tokens(self) -> Tokens | None:
        return self.aio.tokens

    def set_tokens(self, tokens: Tokens | None) -> None:
        self.aio.set_tokens(tokens)

    def close(self) -> None:
        if self._closed:
            return
        self.run(self.aio.close())
        self._closed = True
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    signup = _Blocking(AsyncIdpClient.signup)
    login = _Blocking(AsyncIdpClient.login)
    refresh = _Blocking(AsyncIdpClient.refresh)
    request_password_reset = _Blocking(AsyncIdpClient.request_password_reset)
    confirm_password_reset = _Blocking(AsyncIdpClient.confirm_password_reset)
    confirm_email_verification = _Blocking(AsyncIdpClient.confirm_email_verification)
    healthz = _Blocking(AsyncIdpClient.healthz)
    readyz = _Blocking(AsyncIdpClient.readyz)
    openapi = _Blocking(AsyncIdpClient.openapi)
    docs = _Blocking(AsyncIdpClient.docs)
    metrics = _Blocking(AsyncIdpClient.metrics)
    me = _Blocking(AsyncIdpClient.me)
    logout = _Blocking(AsyncIdpClient.logout)
    logout_all = _Blocking(AsyncIdpClient.logout_all)
    list_sessions = _Blocking(AsyncIdpClient.list_sessions)
    revoke_session = _Blocking(AsyncIdpClient.revoke_session)
    change_password = _Blocking(AsyncIdpClient.change_password)
    request_email_verification = _Blocking(AsyncIdpClient.request_email_verification)
    get_tenant = _Blocking(AsyncIdpClient.get_tenant)
    update_tenant = _Blocking(AsyncIdpClient.update_tenant)
    list_users = _Blocking(AsyncIdpClient.list_users)
    create_user = _Blocking(AsyncIdpClient.create_user)
    get_user = _Blocking(AsyncIdpClient.get_user)
    update_user = _Blocking(AsyncIdpClient.update_user)
    delete_user = _Blocking(AsyncIdpClient.delete_user)
    set_user_role = _Blocking(AsyncIdpClient.set_user_role)
    list_user_sessions = _Blocking(AsyncIdpClient.list_user_sessions)
    revoke_user_sessions = _Blocking(AsyncIdpClient.revoke_user_sessions)
    list_roles = _Blocking(AsyncIdpClient.list_roles)
    get_role = _Blocking(AsyncIdpClient.get_role)
    create_role = _Blocking(AsyncIdpClient.create_role)
    update_role = _Blocking(AsyncIdpClient.update_role)
    delete_role = _Blocking(AsyncIdpClient.delete_role)
    list_permissions = _Blocking(AsyncIdpClient.list_permissions)
    create_file = _Blocking(AsyncIdpClient.create_file)
    complete_file = _Blocking(AsyncIdpClient.complete_file)
    list_files = _Blocking(AsyncIdpClient.list_files)
    get_file = _Blocking(AsyncIdpClient.get_file)
    delete_file = _Blocking(AsyncIdpClient.delete_file)
    list_audit = _Blocking(AsyncIdpClient.list_audit)
