"""Client-side types that are not contract models: the token pair, a page of results, and
``Json`` for the few JSON objects no contract model describes."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

# A decoded JSON object. Results use it only for the operational routes, which have no
# model in ``contracts/`` (``healthz``, ``readyz``, ``openapi``; a body that is not an
# object comes back as ``{}``); every other result is a contract model. Also the type of
# free-form inputs such as the tenant's ``settings``.
Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Tokens:
    """The bearer pair the client holds; ``refresh_token`` is None when only an access token
    was handed to the client (it then cannot refresh by itself)."""

    access_token: str
    refresh_token: str | None = None

    def __repr__(self) -> str:  # never print a token by accident
        return "Tokens(access_token=***, refresh_token=***)"


class Page(BaseModel, Generic[T]):
    """One page of a keyset-paginated list (SPEC 4.3): ``next_cursor`` is None on the last."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None
