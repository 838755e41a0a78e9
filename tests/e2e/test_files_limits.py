"""Quotas, the expired-upload sweeper, and a worker without S3: each on its own platform.

These need settings of their own (tiny quotas, a short PENDING_UPLOAD_TTL, no S3), so
each platform runs on a RabbitMQ vhost of its own and never serves the shared tests.
"""

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aioboto3
import aiohttp
import pytest
from botocore.exceptions import ClientError

from idp.settings import Settings
from tests.e2e.conftest import assert_error, bearer, signup
from tests.e2e.files_support import PNG, complete, declare, declared, put_bytes, uploaded
from tests.support.env import ensure_vhost, sibling_vhost
from tests.support.platform import Platform

QUOTA_FILES = 3
QUOTA_BYTES = 3 * len(PNG) + 100
TTL = 4


def _platform(
    settings: Settings, tmp: pytest.TempPathFactory, name: str, env: dict[str, str]
) -> Iterator[Platform]:
    amqp_url = sibling_vhost(settings.amqp_url, name)
    ensure_vhost(amqp_url)
    platform = Platform(
        log_dir=tmp.mktemp(name), env={"AMQP_URL": amqp_url, "OUTBOX_RELAY": "false", **env}
    )
    platform.start_worker()
    platform.start_edge()
    platform.wait_ready()
    yield platform
    codes = platform.stop()
    assert all(code == 0 for code in codes.values()), f"unclean shutdown: {codes}"


@pytest.fixture(scope="module")
def tight(
    settings: Settings, s3_endpoint_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    yield from _platform(
        settings,
        tmp_path_factory,
        "files-tight",
        {
            "S3_ENDPOINT_URL": s3_endpoint_url,
            "FILE_QUOTA_COUNT": str(QUOTA_FILES),
            "FILE_QUOTA_BYTES": str(QUOTA_BYTES),
            "PENDING_UPLOAD_TTL": str(TTL),
            "FILE_SWEEP_INTERVAL": "0.5",
        },
    )


@pytest.fixture(scope="module")
def without_s3(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    yield from _platform(settings, tmp_path_factory, "files-nos3", {"S3_ENDPOINT_URL": ""})


async def test_the_tenant_quota_of_files_and_bytes_is_a_conflict(tight: Platform) -> None:
    async with aiohttp.ClientSession(base_url=tight.url) as http:
        a, b = (await signup(http))["access_token"], (await signup(http))["access_token"]
        for _ in range(QUOTA_FILES):
            await uploaded(http, a)
        async with await declare(http, a, size=10) as response:
            error = await assert_error(response, 409, "conflict")
        assert "quota" in error["message"]
        # Bytes: pending uploads reserve their declared size.
        await declared(http, b, size=2 * len(PNG))
        async with await declare(http, b, size=len(PNG) + 101) as response:
            await assert_error(response, 409, "conflict")
        await declared(http, b, size=len(PNG) + 100)
        # Another tenant's quota is its own; deleting frees room.
        async with http.get("/v1/files", headers=bearer(a)) as response:
            first = (await response.json())["items"][0]["id"]
        async with http.delete(f"/v1/files/{first}", headers=bearer(a)) as response:
            assert response.status == 204
        async with await declare(http, a, size=10) as response:
            assert response.status == 201


async def test_an_upload_url_still_valid_keeps_its_size_reserved(
    tight: Platform, settings: Settings, s3_endpoint_url: str
) -> None:
    """A presigned URL cannot be taken back: rejecting or deleting a pending file freed
    its quota at once while its URL could still write the declared size, so an audit
    parked 25 times the byte quota in the bucket. The size stays reserved until the URL
    expires (here after TTL seconds), and then the room is back."""
    async with aiohttp.ClientSession(base_url=tight.url) as http:
        token = (await signup(http))["access_token"]
        rejected = await declared(http, token, size=QUOTA_BYTES)
        async with await complete(http, token, rejected["file"]["id"]) as response:
            await assert_error(response, 400, "invalid_request")  # nothing uploaded
        deleted = await declared(http, (second := (await signup(http))["access_token"]))
        async with http.delete(f"/v1/files/{deleted['file']['id']}", headers=bearer(second)) as r:
            assert r.status == 204
        async with http.get(f"/v1/files/{deleted['file']['id']}", headers=bearer(second)) as r:
            await assert_error(r, 404, "not_found")  # gone for the API at once
        # Both URLs can still write: their sizes are still counted.
        await put_bytes(rejected["upload"], b"\0" * QUOTA_BYTES)
        async with await declare(http, token, size=1) as response:
            error = await assert_error(response, 409, "conflict")
        assert "reserved by upload URLs" in error["message"]
        async with await declare(http, second, size=QUOTA_BYTES - len(PNG) + 1) as response:
            await assert_error(response, 409, "conflict")
        await asyncio.sleep(TTL + 0.5)
        assert (await declared(http, token, size=QUOTA_BYTES))["file"]["status"] == "pending"
        assert (await declared(http, second, size=QUOTA_BYTES))["file"]["status"] == "pending"


async def test_expired_pending_uploads_are_swept_object_and_row(
    tight: Platform, settings: Settings, s3_endpoint_url: str
) -> None:
    async with aiohttp.ClientSession(base_url=tight.url) as http:
        owner = await signup(http)
        token, tenant_id = owner["access_token"], owner["tenant"]["id"]
        pending = await declared(http, token)
        await put_bytes(pending["upload"], PNG)  # uploaded, never completed
        ready = await uploaded(http, token)
        # A late PUT to a completed file's URL leaves a staged object, older than the TTL
        # soon: the sweeper removes it too.
        late = await declared(http, token)
        await put_bytes(late["upload"], PNG)
        async with await complete(http, token, late["file"]["id"]) as response:
            assert response.status == 200
        await put_bytes(late["upload"], PNG)
        gone = [
            f"uploads/{tenant_id}/{pending['file']['id']}",
            f"uploads/{tenant_id}/{late['file']['id']}",
        ]
        key = f"tenants/{tenant_id}/files/{pending['file']['id']}"
        deadline = time.monotonic() + TTL + 15
        status = 200
        while time.monotonic() < deadline:
            async with http.get(
                f"/v1/files/{pending['file']['id']}", headers=bearer(token)
            ) as response:
                status = response.status
            if status == 404:
                break
            await asyncio.sleep(0.5)
        assert status == 404
        async with http.get(f"/v1/files/{ready['id']}", headers=bearer(token)) as response:
            assert response.status == 200
            assert (await response.json())["status"] == "ready"
    session: Any = aioboto3.Session().client(
        "s3",
        endpoint_url=s3_endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
    )
    async with session as s3:

        async def exists(object_key: str) -> bool:
            try:
                await s3.head_object(Bucket=settings.s3_bucket, Key=object_key)
            except ClientError:
                return False
            return True

        deadline = time.monotonic() + TTL + 15  # the late PUT came after the pending one
        while await exists(gone[1]) and time.monotonic() < deadline:  # noqa: ASYNC110 - S3 sends no event
            await asyncio.sleep(0.5)
        for stale in (key, *gone):
            assert not await exists(stale), stale
        kept = f"tenants/{tenant_id}/files/{late['file']['id']}"
        await s3.head_object(Bucket=settings.s3_bucket, Key=kept)


async def test_without_s3_the_worker_serves_the_rest_and_files_answer_503(
    without_s3: Platform,
) -> None:
    async with aiohttp.ClientSession(base_url=without_s3.url) as http:
        owner = await signup(http)  # the auth family works
        token = owner["access_token"]
        async with await declare(http, token) as response:
            error = await assert_error(response, 503, "unavailable")
        assert "S3_ENDPOINT_URL" in error["message"]
        async with http.get("/v1/files", headers=bearer(token)) as response:
            await assert_error(response, 503, "unavailable")
