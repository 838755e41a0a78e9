"""A page encoded by ``workers.encoded`` is byte for byte what pydantic would write."""

import uuid
from datetime import UTC, datetime

import pytest

from contracts.models import User
from contracts.users import UserPage
from workers.encoded import encode_page


def _row(microsecond: int, name: str) -> dict[str, object]:
    at = datetime(2026, 11, 25, 12, 0, 5, microsecond, tzinfo=UTC)
    # As the users page query returns them: ids as text, datetimes in UTC.
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": str(uuid.uuid4()),
        "email": "a.b@example.com",
        "name": name,
        "role": "member",
        "status": "invited",
        "email_verified": False,
        "created_at": at,
        "updated_at": at.replace(second=59),
    }


@pytest.mark.parametrize("cursor", [None, "b64-cursor"])
def test_a_page_encodes_exactly_as_the_contract_model(cursor: str | None) -> None:
    rows = [
        _row(0, 'Zoë "quoted" \\ back'),
        _row(123456, "名前"),
        _row(100000, "tab\tnew\nline"),
        _row(1, "😀 emoji"),
    ]
    expected = UserPage(items=[User(**row) for row in rows], next_cursor=cursor)
    assert encode_page(rows, cursor) == expected.model_dump_json().encode()


def test_an_empty_page_encodes_exactly_as_the_contract_model() -> None:
    assert encode_page([], None) == UserPage(items=[], next_cursor=None).model_dump_json().encode()
