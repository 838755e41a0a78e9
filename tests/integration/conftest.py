"""Real PostgreSQL (as the application role), Redis and RabbitMQ for integration tests."""

import uuid
from collections.abc import AsyncIterator

import pytest

from contracts.auth import LoginResult, OwnerIn, SignupRequest
from idp.settings import Settings
from workers.context import Call, Client
from workers.revocation_sync import restore_if_lost
from workers.runtime import Runtime
from workers.uow import Database


@pytest.fixture(scope="session")
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.open(settings)
    # What a worker does at start: make sure Redis holds every revocation record.
    await restore_if_lost(runtime.db, runtime.revocations, settings.revocation_ttl_seconds)
    yield runtime
    await runtime.close()


@pytest.fixture(scope="session")
def db(runtime: Runtime) -> Database:
    """The workers' database handle: connected as the application role, RLS applies."""
    return runtime.db


def a_call() -> Call:
    return Call(request_id=str(uuid.uuid4()), message_id=None, client=Client(ip="127.0.0.1"))


async def new_tenant(runtime: Runtime, email: str = "owner@example.com") -> LoginResult:
    slug = f"t-{uuid.uuid4().hex[:12]}"
    request = SignupRequest(
        slug=slug,
        name=f"Tenant {slug}",
        owner=OwnerIn(email=email, password="a long enough passphrase", name="Owner"),
    )
    return await runtime.auth.signup(request, a_call())


@pytest.fixture
async def with_storage(settings: Settings, s3_endpoint_url: str) -> AsyncIterator[Runtime]:
    """A runtime of its own with S3 (moto) and a bucket of its own, for the files family."""
    bucket = f"lock-order-{uuid.uuid4().hex[:8]}"
    runtime = Runtime.open(
        settings.model_copy(update={"s3_endpoint_url": s3_endpoint_url, "s3_bucket": bucket})
    )
    await runtime.open_storage()
    yield runtime
    await runtime.close()
