"""A worker's readiness ping asks its dependencies: ready means able to serve."""

from collections.abc import AsyncIterator

import pytest

from idp.settings import Settings
from workers.errors import Unavailable
from workers.runtime import Runtime


@pytest.fixture
async def opened(request: pytest.FixtureRequest, settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.open(settings.model_copy(update=request.param))
    yield runtime
    await runtime.close()


async def test_a_worker_whose_dependencies_answer_is_ready(runtime: Runtime) -> None:
    await runtime.check_dependencies()


@pytest.mark.parametrize(
    ("opened", "named"),
    [
        ({"redis_url": "redis://127.0.0.1:1/0"}, "Redis"),
        ({"database_url": "postgresql://idp_app:idp_app@127.0.0.1:1/idp_test"}, "PostgreSQL"),
    ],
    indirect=["opened"],
)
async def test_a_worker_that_lost_a_dependency_answers_its_ping_503(
    opened: Runtime, named: str
) -> None:
    """It answered "pong" whatever its database and Redis did, so readiness said ready
    while every request failed (an operability audit)."""
    with pytest.raises(Unavailable, match=named):
        await opened.check_dependencies()
