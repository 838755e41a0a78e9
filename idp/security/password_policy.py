"""SPEC 4.5's password rules beyond length: not a common password, not the email."""

import gzip
from functools import cache
from importlib import resources


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list (see ``idp/security/data/README.md``), casefolded; read once."""
    data = resources.files("idp.security").joinpath("data/common-passwords.txt.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.rstrip("\n") for line in lines if line.strip())


def password_problem(password: str, email: str) -> str | None:
    """Why ``password`` is refused for an account with ``email``, or None if it is fine."""
    folded = password.casefold()
    if folded == email.casefold():
        return "must not equal the email"
    if folded in common_passwords():
        return "is too common; choose a less guessable password"
    return None
