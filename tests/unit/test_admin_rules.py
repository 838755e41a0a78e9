"""Pure rules of tenant administration: grants, merge patches, cursors, role contracts."""

import base64
import uuid
from datetime import UTC, datetime

import orjson
import pytest
from pydantic import ValidationError

from contracts.roles import CreateRoleRequest, UpdateRoleRequest
from contracts.users import ListUsersRequest, UpdateUserRequest
from workers.errors import Forbidden, InvalidRequest
from workers.pagination import decode_cursor, encode_cursor
from workers.roles.guards import require_grantable, require_outranks
from workers.users.tenant import merge_patch


def test_a_grant_within_what_one_holds_passes() -> None:
    require_grantable(frozenset({"users:read", "users:write"}), ["users:read"])
    require_grantable(frozenset(), [])


def test_a_grant_beyond_what_one_holds_is_forbidden_and_names_the_gap() -> None:
    with pytest.raises(Forbidden, match="tenant:manage"):
        require_grantable(frozenset({"users:read"}), ["users:read", "tenant:manage"])


def test_nobody_acts_on_someone_holding_more() -> None:
    require_outranks(frozenset({"a", "b"}), ("a",))
    with pytest.raises(Forbidden):
        require_outranks(frozenset({"a"}), ("a", "b"))


def test_merge_patch_follows_rfc_7386() -> None:
    target = {"a": "b", "c": {"d": "e", "f": "g"}}
    patch = {"a": "z", "c": {"f": None}, "n": [1]}
    assert merge_patch(target, patch) == {"a": "z", "c": {"d": "e"}, "n": [1]}
    assert merge_patch({"a": {"b": 1}}, {"a": 3}) == {"a": 3}
    assert target == {"a": "b", "c": {"d": "e", "f": "g"}}  # not mutated


def test_cursors_round_trip() -> None:
    at, row_id = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.uuid4()
    cursor = encode_cursor(at, row_id)
    assert "=" not in cursor
    assert decode_cursor(cursor) == (at, row_id)


@pytest.mark.parametrize(
    "cursor", ["", "!!", "bm90IGpzb24", "WzEsMl0", "WyIyMDI2LTAxLTAyIiwieCJd", "W10"]
)
def test_anything_else_is_an_invalid_cursor(cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        decode_cursor(cursor)


def _forged(*pair: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(pair))).decode().rstrip("=")


@pytest.mark.parametrize(
    "pair",
    [
        ("2026-01-01T00:00:00+00:00", 5),  # an id that is no string (was a 500)
        ("2026-01-01T00:00:00+00:00", [1]),
        ("2026-01-01T00:00:00+00:00", {"a": 1}),
        (20260101, str(uuid.UUID(int=1))),
        # Valid ISO times that leave datetime's range once in UTC (were a 500 at bind time)
        ("9999-12-31T23:59:59.999999-23:59", str(uuid.UUID(int=1))),
        ("0001-01-01T00:00:00+23:59", str(uuid.UUID(int=1))),
        ("2026-01-01T00:00:00", str(uuid.UUID(int=1))),  # no time zone
    ],
    ids=repr,
)
def test_a_forged_cursor_is_a_400_never_a_500(pair: tuple[object, object]) -> None:
    with pytest.raises(InvalidRequest):
        decode_cursor(_forged(*pair))


def test_role_permissions_come_from_the_catalogue_sorted_once() -> None:
    role = CreateRoleRequest(name="ops", permissions=["users:read", "audit:read", "users:read"])
    assert role.permissions == ["audit:read", "users:read"]
    with pytest.raises(ValidationError, match="unknown permission"):
        CreateRoleRequest(name="ops", permissions=["users:fly"])
    assert UpdateRoleRequest(id="x", name="  Has Spaces ").name == "Has Spaces"
    for bad in ("", "   ", "tab\there", "x" * 65):
        with pytest.raises(ValidationError):
            UpdateRoleRequest(id="x", name=bad)
    assert UpdateRoleRequest(id="x").permissions is None


def test_list_limits_and_statuses() -> None:
    assert ListUsersRequest().limit == 50
    assert ListUsersRequest.model_validate({"limit": "200"}).limit == 200
    for bad in ({"limit": "201"}, {"limit": "0"}, {"status": "gone"}, {"extra": 1}):
        with pytest.raises(ValidationError):
            ListUsersRequest.model_validate(bad)
    with pytest.raises(ValidationError):
        UpdateUserRequest.model_validate({"id": "x", "status": "invited"})
