"""Client-side types that are not contract models: the token pair and a page of results."""

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")

# A JSON object as the platform sent it, for results SPEC gives no contract model for.
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
