"""SPEC 4.5's password rules as the workers' error: for sign-up, invitations, resets,
changes and users created with a password."""

from contracts.envelope import FieldError
from idp.security.password_policy import password_problem
from workers.errors import InvalidRequest


def check_new_password(password: str, email: str, field: str) -> None:
    """The rules beyond the length the contract already enforces (common passwords, the
    account's own email); ``field`` names the body field in the 400's details."""
    if (problem := password_problem(password, email)) is not None:
        raise InvalidRequest(
            "password rejected", details=[FieldError(field=field, message=problem)]
        )
