"""A reply body already encoded as JSON, for the hottest read paths.

A handler normally returns its contract's pydantic model and dispatch serializes it. A
page of rows can skip building one model per row: ``Encoded[UserPage]`` carries the
same bytes pydantic would produce (orjson writes UUIDs and UTC datetimes exactly as
pydantic's JSON serializer does; ``tests/unit/test_encoded.py`` holds the two side by
side), while the type still names the contract the bytes conform to.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
_OPTIONS = orjson.OPT_UTC_Z


@dataclass(frozen=True, slots=True)
class Encoded(Generic[M]):
    json: bytes


def encode_page(items: Sequence[Mapping[str, Any]], next_cursor: str | None) -> bytes:
    """``{"items": [...], "next_cursor": ...}`` from rows whose keys are the item's fields,
    in the model's field order."""
    return orjson.dumps(
        {"items": [dict(row) for row in items], "next_cursor": next_cursor}, option=_OPTIONS
    )
