"""Fields shared by the paginated and id-addressed requests of the users and roles families."""

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

# Path ids are plain strings in the contract: a malformed id (empty, 3,000 characters,
# not a UUID) is answered 404 by the worker, exactly like another tenant's id, instead of
# a 400 that would tell them apart. The schema says what a real id looks like.
ResourceId = Annotated[str, WithJsonSchema({"type": "string", "minLength": 1, "maxLength": 100})]


def _an_integer_or_its_digits(value: object) -> object:
    # Lax ints take a query string's "10", but also true as 1, "+5", " 5" and "1_0": a
    # limit is a JSON integer or, from a query string, its plain decimal digits.
    if isinstance(value, bool):
        raise ValueError("limit must be an integer, not a boolean")
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("limit must be written in decimal digits only")
    return value


# Field first: after a BeforeValidator, pydantic writes the bounds as "ge"/"le" in the JSON
# Schema (not keywords: a client validating by the OpenAPI document would allow any int).
PageLimit = Annotated[int, Field(ge=1, le=200), BeforeValidator(_an_integer_or_its_digits)]
Cursor = Annotated[str, Field(min_length=1, max_length=512)]
DEFAULT_LIMIT = 50
