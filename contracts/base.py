"""Base classes and shared field types for the contract models."""

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints, model_validator

# Passwords are taken exactly as given: no stripping, no normalisation (SPEC 4.5).
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]
# A login attempt never reveals the policy; the bound only keeps hashing cheap.
GivenPassword = Annotated[str, Field(min_length=1, max_length=1024)]
Slug = Annotated[
    str,
    StringConstraints(min_length=3, max_length=63, pattern=r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])$"),
]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Email = Annotated[EmailStr, Field(max_length=254)]
Token = Annotated[str, Field(min_length=1, max_length=4096)]


_INT64 = range(-(2**63), 2**63)


def _reject_unstorable(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if value not in _INT64:
            raise ValueError("integers must fit in 64 bits")
    elif isinstance(value, dict):
        for key, item in value.items():
            _reject_unstorable(key)
            _reject_unstorable(item)
    elif isinstance(value, list):
        for item in value:
            _reject_unstorable(item)


class Request(BaseModel):
    """A request body: unknown fields are refused so typos do not pass silently.

    NUL characters are refused everywhere (PostgreSQL text cannot hold them, and no
    legitimate name, email or password needs one), and so are integers beyond 64 bits
    (events carrying them could not be encoded for other systems).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        _reject_unstorable(data)
        return data


class Empty(Request):
    """A request that carries no fields."""


class View(BaseModel):
    """A response body."""

    model_config = ConfigDict(frozen=True)


class Pong(View):
    """A family's answer to the readiness ping."""

    family: str
