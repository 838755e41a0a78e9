"""Base classes and shared field types for the contract models."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

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


class Request(BaseModel):
    """A request body: unknown fields are refused so typos do not pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Empty(Request):
    """A request that carries no fields."""


class View(BaseModel):
    """A response body."""

    model_config = ConfigDict(frozen=True)


class Pong(View):
    """A family's answer to the readiness ping."""

    family: str
