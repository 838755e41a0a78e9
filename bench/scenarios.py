"""The five measured scenarios, built from the fixture, one slot per connection."""

import uuid

from bench.load import Scenario, Slot
from bench.setup import BEARER_MODE, PASSWORD, Fixture


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def build(fixture: Fixture, concurrency: int) -> list[Scenario]:
    users = len(fixture.emails)
    logins = [
        Slot(
            BEARER_MODE,
            bodies=tuple(
                {"tenant": fixture.slug, "email": fixture.emails[j % users], "password": PASSWORD}
                for j in range(i, max(users, concurrency), concurrency)
            ),
        )
        for i in range(concurrency)
    ]
    owner = _bearer(fixture.owner.access_token)
    # One session per connection, and as many spare ones for a separate warm-up.
    measured, spare = fixture.sessions[:concurrency], fixture.sessions[concurrency:]
    run = uuid.uuid4().hex[:8]
    # Measured in this order: the read-only scenarios first, so that nothing a write
    # scenario leaves behind (autovacuum, the outbox relay's backlog) falls into them.
    return [
        Scenario(
            "me",
            "get",
            "GET",
            "/v1/auth/me",
            tuple(Slot(_bearer(s.access_token)) for s in measured),
        ),
        Scenario(
            "users_list",
            "get",
            "GET",
            "/v1/users?limit=50",
            tuple(Slot(owner) for _ in range(concurrency)),
        ),
        Scenario(
            "refresh",
            "refresh",
            "POST",
            "/v1/auth/refresh",
            tuple(Slot(BEARER_MODE, refresh_token=s.refresh_token) for s in measured),
            warmup_slots=tuple(Slot(BEARER_MODE, refresh_token=s.refresh_token) for s in spare),
        ),
        Scenario("login", "login", "POST", "/v1/auth/login", tuple(logins)),
        Scenario(
            "users_create",
            "create",
            "POST",
            "/v1/users",
            tuple(Slot(owner, prefix=f"new-{run}") for _ in range(concurrency)),
        ),
    ]
