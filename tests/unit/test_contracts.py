"""Contract validation: what callers may send, over HTTP and AMQP alike."""

import pytest
from pydantic import ValidationError

from contracts.auth import LoginRequest, OwnerIn, SignupRequest
from contracts.base import MAX_NESTING, Request
from contracts.catalog import ACTIONS, FAMILIES
from contracts.envelope import error_reply, validation_details
from contracts.errors import STATUS, ErrorCode
from contracts.files import ListFilesRequest
from contracts.permissions import PERMISSIONS
from contracts.roles import PERMISSION_DESCRIPTIONS
from contracts.sessions import PasswordChange
from contracts.users import ListAuditRequest, ListUsersRequest, UpdateTenantRequest

OWNER = {"email": "a@example.com", "password": "long enough", "name": "A"}


def test_a_valid_signup_parses() -> None:
    request = SignupRequest.model_validate({"slug": "acme-co", "name": "Acme", "owner": OWNER})
    assert request.owner.email == "a@example.com"


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "A", "name": "Acme", "owner": OWNER},
        {"slug": "-acme", "name": "Acme", "owner": OWNER},
        {"slug": "acme", "name": "", "owner": OWNER},
        {"slug": "acme", "name": "Acme", "owner": {**OWNER, "email": "not-an-email"}},
        {"slug": "acme", "name": "Acme", "owner": {**OWNER, "password": "short"}},
        {"slug": "acme", "name": "Acme", "owner": {**OWNER, "password": "x" * 129}},
        {"slug": "acme", "name": "Acme", "owner": OWNER, "role": "owner"},
        {"slug": 5, "name": "Acme", "owner": OWNER},
        {"slug": "acme", "name": "Acme"},
    ],
)
def test_invalid_signups_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SignupRequest.model_validate(body)


def test_passwords_are_not_stripped() -> None:
    request = LoginRequest.model_validate(
        {"tenant": "acme", "email": "a@example.com", "password": "  spaced  "}
    )
    assert request.password == "  spaced  "


def test_every_family_answers_a_ping_and_every_key_names_its_family() -> None:
    for family in FAMILIES:
        assert f"{family}.ping" in ACTIONS
    for key, action in ACTIONS.items():
        assert key == action.key
        assert action.family in FAMILIES


def test_error_replies_carry_the_status_of_their_code() -> None:
    for code in ErrorCode:
        reply = error_reply(code, "m")
        assert reply.error.status == STATUS[code]
        assert 400 <= reply.error.status <= 599


def test_nul_characters_are_refused_anywhere_in_a_request_but_a_password() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        SignupRequest.model_validate({"slug": "acme", "name": "Ac\x00me", "owner": OWNER})
    with pytest.raises(ValidationError, match="NUL"):
        SignupRequest.model_validate(
            {"slug": "acme", "name": "Acme", "owner": {**OWNER, "name": "A\x00"}}
        )
    with pytest.raises(ValidationError, match="NUL"):
        LoginRequest.model_validate(
            {"tenant": "acme", "email": "a@exam\x00ple.com", "password": "p"}
        )
    # Only the password fields themselves: a "password" key in stored data is stored text.
    with pytest.raises(ValidationError, match="NUL"):
        UpdateTenantRequest.model_validate({"settings": {"password": "a\x00"}})
    # SPEC 4.5: any Unicode, verified exactly as given; a password is only ever hashed.
    login = {"tenant": "acme", "email": "a@example.com", "password": "p\x00ss"}
    assert LoginRequest.model_validate(login).password == "p\x00ss"
    owner = {**OWNER, "password": "long\x00enough"}
    signup = SignupRequest.model_validate({"slug": "acme", "name": "Acme", "owner": owner})
    assert signup.owner.password == "long\x00enough"
    change = PasswordChange.model_validate(
        {"current_password": "a\x00", "new_password": "new\x00password"}
    )
    assert change.new_password == "new\x00password"


def test_integers_beyond_64_bits_are_refused() -> None:
    from contracts.users import UpdateTenantRequest

    with pytest.raises(ValidationError, match="64 bits") as refused:
        UpdateTenantRequest.model_validate({"settings": {"limits": [1, 2**64]}})
    assert validation_details(refused.value)[0].field == "settings.limits.1"


@pytest.mark.parametrize("number", [1e23, -1e308, 9.3e18, float(2**63)])
def test_numbers_beyond_64_bits_are_refused_as_floats_too(number: float) -> None:
    from contracts.users import UpdateTenantRequest

    with pytest.raises(ValidationError, match="2\\^63"):
        UpdateTenantRequest.model_validate({"settings": {"big": number}})
    assert UpdateTenantRequest.model_validate({"settings": {"ok": 1.5e18, "tiny": 1e-300}})


def test_bodies_nested_past_the_bound_are_refused_whatever_their_depth() -> None:
    within = {"slug": "acme", "name": "Acme", "owner": {**OWNER, "extra": []}}
    nested: list[object] = []
    for _ in range(MAX_NESTING - 3):  # body -> owner -> extra -> the nesting
        nested = [nested]
    within["owner"]["extra"] = nested  # type: ignore[index]
    with pytest.raises(ValidationError) as refused:
        SignupRequest.model_validate(within)
    assert "nested" not in str(refused.value)  # refused for the unknown field only
    from contracts.users import UpdateTenantRequest

    for depth in (MAX_NESTING, 5_000):
        deep: list[object] = []
        for _ in range(depth):
            deep = [deep]
        with pytest.raises(ValidationError, match="nested more than"):
            UpdateTenantRequest.model_validate({"settings": {"deep": deep}})
        # Where the type takes no list, the type refuses it, unread (and intact).
        with pytest.raises(ValidationError) as refused:
            LoginRequest.model_validate({"tenant": deep, "email": "a@b.io", "password": "p"})
        assert [d.field for d in validation_details(refused.value)] == ["tenant"]
        with pytest.raises(ValidationError) as refused:
            SignupRequest.model_validate({"slug": "acme", "name": "Acme", "owner": deep})
        assert [d.field for d in validation_details(refused.value)] == ["owner"]


def test_an_oversized_settings_patch_is_refused_before_it_is_walked() -> None:
    """A 1 MiB patch of tiny lists took ~0.25 s to walk, holding the worker's event loop,
    only to be refused afterwards for exceeding the 16 KiB of settings. Its size is now
    checked first: refused by name, with what the walk would have found unread."""
    from contracts.users import MAX_SETTINGS_PATCH_BYTES, UpdateTenantRequest

    tiny_lists = {"k": [[0]] * 200_000}
    with pytest.raises(
        ValidationError, match=f"at most {MAX_SETTINGS_PATCH_BYTES} bytes"
    ) as refused:
        UpdateTenantRequest.model_validate({"settings": tiny_lists})
    assert [d.field for d in validation_details(refused.value)] == ["settings"]
    # Bigger than the bound and with a NUL deep inside: the size is what is reported.
    hidden = {"k": [[0]] * 20_000, "z": "a\x00"}
    with pytest.raises(ValidationError, match="bytes") as refused:
        UpdateTenantRequest.model_validate({"settings": hidden})
    assert "NUL" not in str(refused.value)
    # Within the bound, the walk still refuses what cannot be stored.
    with pytest.raises(ValidationError, match="NUL"):
        UpdateTenantRequest.model_validate({"settings": {"k": [[0]] * 1000, "z": "a\x00"}})
    just_fits = {"k": "x" * (MAX_SETTINGS_PATCH_BYTES - len('{"k":""}'))}
    assert UpdateTenantRequest.model_validate({"settings": just_fits}).settings == just_fits
    with pytest.raises(ValidationError, match="bytes"):
        UpdateTenantRequest.model_validate({"settings": {**just_fits, "": 0}})


def test_a_nested_models_refusal_names_the_field_under_its_parent() -> None:
    with pytest.raises(ValidationError) as refused:
        SignupRequest.model_validate(
            {"slug": "acme", "name": "Acme", "owner": {**OWNER, "name": "Bo\x00b"}}
        )
    assert [d.field for d in validation_details(refused.value)] == ["owner.name"]
    # A password is only hashed: U+0000 is allowed there, nested too.
    assert SignupRequest.model_validate(
        {"slug": "acme", "name": "Acme", "owner": {**OWNER, "password": "pass\x00word-1"}}
    )


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("owner@acme.test", "owner@acme.test"),  # RFC 6761's testing domain: test suites
        ("Mixed.Case@ACME.Example", "Mixed.Case@acme.example"),  # the domain normalised
        ("  padded@example.com ", "padded@example.com"),
    ],
)
def test_addresses_are_normalised_and_test_domains_accepted(given: str, kept: str) -> None:
    request = LoginRequest.model_validate({"tenant": "acme", "email": given, "password": "p"})
    assert request.email == kept


@pytest.mark.parametrize(
    "refused",
    ["a@localhost", "a@printer.local", "no-at-sign", "John <a@b.com>", "a@b.com\r\nBcc: x@y.z"],
)
def test_undeliverable_or_malformed_addresses_are_refused(refused: str) -> None:
    owner = {"email": refused, "password": "a long passphrase", "name": "Owner"}
    with pytest.raises(ValidationError, match="not a valid email address"):
        OwnerIn.model_validate(owner)
    # Claimed at login they name no account: the unknown account's 401, not a 400.
    login = LoginRequest.model_validate({"tenant": "No_Such", "email": refused, "password": "p"})
    assert (login.tenant, login.email) == ("no_such", refused.strip())


@pytest.mark.parametrize("name", ["line\nbreak", "tab\tname", "bell\u0007", "   "])
def test_names_are_one_line_of_text(name: str) -> None:
    owner = {"email": "a@example.com", "password": "a long passphrase", "name": name}
    with pytest.raises(ValidationError):
        OwnerIn.model_validate(owner)
    with pytest.raises(ValidationError):
        SignupRequest.model_validate({"slug": "acme", "name": name, "owner": OWNER})


def test_a_refused_value_names_its_field() -> None:
    from contracts.envelope import validation_details

    body = {"slug": "acme", "name": "Acme", "owner": {**OWNER, "name": "N\x00"}}
    with pytest.raises(ValidationError) as refused:
        SignupRequest.model_validate(body)
    assert [d.field for d in validation_details(refused.value)] == ["owner.name"]


@pytest.mark.parametrize("model", [ListUsersRequest, ListAuditRequest, ListFilesRequest])
def test_a_page_limit_is_an_integer_or_its_digits_never_a_boolean(model: type[Request]) -> None:
    """``{"limit": true}`` was a page of one (lax int coercion) over AMQP; ``1_0`` was 10."""
    assert model.model_validate({"limit": "10"}).limit == 10  # type: ignore[attr-defined]
    assert model.model_validate({"limit": 10}).limit == 10  # type: ignore[attr-defined]
    for wrong in (True, False, "ten", 0, 201, 1.5, "+5", " 5", "5 ", "1_0", "-1", "\u0665"):
        with pytest.raises(ValidationError):
            model.model_validate({"limit": wrong})


def test_every_permission_is_described_once_in_the_catalogue_order() -> None:
    """``GET /v1/permissions`` lists PERMISSION_DESCRIPTIONS: the same permissions as the
    catalogue (contracts/permissions.py), in its order."""
    assert tuple(PERMISSION_DESCRIPTIONS) == PERMISSIONS
