"""Path ids: a malformed one is as unknown as another tenant's (404, never 400)."""

from uuid import UUID

from workers.errors import NotFound


def parse_id(value: str, what: str) -> UUID:
    """The id in its one written form, 36 characters with dashes (either case): ``UUID()``
    also reads braces, ``urn:uuid:`` and bare hex, so one resource had many addresses."""
    try:
        parsed = UUID(value)
    except ValueError:
        parsed = None
    if parsed is None or str(parsed) != value.lower():
        raise NotFound(f"{what} not found")
    return parsed
