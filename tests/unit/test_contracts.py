"""Contract validation: what callers may send, over HTTP and AMQP alike."""

import pytest
from pydantic import ValidationError

from contracts.auth import LoginRequest, SignupRequest
from contracts.catalog import ACTIONS, FAMILIES
from contracts.envelope import error_reply
from contracts.errors import STATUS, ErrorCode

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


def test_nul_characters_are_refused_anywhere_in_a_request() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        SignupRequest.model_validate({"slug": "acme", "name": "Ac\x00me", "owner": OWNER})
    with pytest.raises(ValidationError, match="NUL"):
        LoginRequest.model_validate(
            {"tenant": "acme", "email": "a@example.com", "password": "p\x00"}
        )


def test_integers_beyond_64_bits_are_refused() -> None:
    with pytest.raises(ValidationError, match="64 bits"):
        SignupRequest.model_validate(
            {"slug": "acme", "name": "Acme", "owner": {**OWNER, "extra": [2**64]}}
        )


def test_the_relay_encodes_what_orjson_cannot() -> None:
    from workers.outbox_relay import _encode

    assert _encode({"n": 2**70}) == b'{"n":1180591620717411303424}'
