"""Path ids: a malformed one is as unknown as another tenant's (404, never 400)."""

from uuid import UUID

from workers.errors import NotFound


def parse_id(value: str, what: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise NotFound(f"{what} not found") from None
