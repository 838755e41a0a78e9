"""The rules that stop an administrator from handing out more than they hold (SPEC 4.3)."""

from collections.abc import Iterable

from workers.errors import Forbidden


def require_grantable(actor: frozenset[str], granted: Iterable[str]) -> None:
    """Nobody grants a role holding a permission they lack themselves."""
    missing = sorted(set(granted) - actor)
    if missing:
        raise Forbidden(f"you cannot grant permissions you do not hold: {', '.join(missing)}")


def require_outranks(actor: frozenset[str], target: Iterable[str]) -> None:
    """Nobody changes the role, status or existence of someone holding more than they do."""
    if not set(target) <= actor:
        raise Forbidden("the target holds permissions you do not hold")
