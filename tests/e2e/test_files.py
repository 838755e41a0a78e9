"""Files over HTTP against a real S3 endpoint (moto's server): SPEC 4.3 /v1/files."""

import asyncio
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

import aioboto3
import aiohttp
import pytest
from botocore.exceptions import ClientError

from idp.settings import Settings
from tests.e2e.conftest import PASSWORD, add_member, assert_error, bearer, signup
from tests.e2e.files_support import PNG, complete, declare, declared, put_bytes, uploaded


def _s3(settings: Settings, url: str) -> Any:
    return aioboto3.Session().client(
        "s3",
        endpoint_url=url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
    )


async def _object_exists(settings: Settings, url: str, key: str) -> bool:
    async with _s3(settings, url) as s3:
        try:
            await s3.head_object(Bucket=settings.s3_bucket, Key=key)
        except ClientError:
            return False
        return True


async def test_upload_complete_download_and_delete(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    owner = await signup(http)
    token, tenant_id = owner["access_token"], owner["tenant"]["id"]
    name = 'Réunion "final" ✓.png'
    created = await declared(http, token, filename=name)
    file, upload = created["file"], created["upload"]
    assert file["status"] == "pending"
    assert file["filename"] == name
    assert file["size"] == len(PNG)
    assert file["created_by"] == owner["user"]["id"]
    assert upload["method"] == "PUT"
    assert upload["headers"] == {"Content-Type": "image/png", "Content-Length": str(len(PNG))}
    assert 0 < upload["expires_in"] <= 3600
    key = f"tenants/{tenant_id}/files/{file['id']}"
    staged = f"uploads/{tenant_id}/{file['id']}"
    url = urlsplit(upload["url"])
    # The URL writes a staging key; only a checked upload reaches the file's own key.
    assert url.path == f"/{settings.s3_bucket}/{staged}"
    # The signature covers the declared type and length: S3 refuses any other.
    assert "content-length%3Bcontent-type%3Bhost" in url.query

    async with http.get(f"/v1/files/{file['id']}", headers=bearer(token)) as response:
        assert response.status == 200
        pending = await response.json()
    assert pending["status"] == "pending"
    assert pending["download_url"] is None

    await put_bytes(upload, PNG)
    async with await complete(http, token, file["id"]) as response:
        assert response.status == 200, await response.text()
        ready = await response.json()
    assert ready["status"] == "ready"
    assert ready["uploaded_at"] is not None
    assert await _object_exists(settings, s3_endpoint_url, key)
    assert not await _object_exists(settings, s3_endpoint_url, staged)
    # The upload URL is still valid, with the same signed type and length: bytes PUT now
    # (same size, other content) never reach the checked file.
    await put_bytes(upload, b"<html><script>alert(1)</script>".ljust(len(PNG), b" "))
    async with await complete(http, token, file["id"]) as response:
        assert response.status == 200  # completing again is harmless
        assert (await response.json())["status"] == "ready"

    async with http.get(f"/v1/files/{file['id']}", headers=bearer(token)) as response:
        assert response.status == 200
        detail = await response.json()
    assert detail["status"] == "ready"
    assert 0 < detail["download_expires_in"] <= 3600
    async with (
        aiohttp.ClientSession() as s3,
        s3.get(detail["download_url"]) as download,
    ):
        assert download.status == 200
        assert await download.read() == PNG
        assert download.headers["Content-Type"] == "image/png"
        assert download.headers["Cache-Control"] == "private, no-store"
        disposition = download.headers["Content-Disposition"]
    assert disposition == (
        f"attachment; filename=\"R_union _final_ _.png\"; filename*=UTF-8''{quote(name, safe='')}"
    )

    async with http.get("/v1/files", headers=bearer(token)) as response:
        assert response.status == 200
        listed = await response.json()
    assert [item["id"] for item in listed["items"]] == [file["id"]]
    assert listed["next_cursor"] is None

    assert await _object_exists(settings, s3_endpoint_url, key)
    async with http.delete(f"/v1/files/{file['id']}", headers=bearer(token)) as response:
        assert response.status == 204
    assert not await _object_exists(settings, s3_endpoint_url, key)
    async with http.get(f"/v1/files/{file['id']}", headers=bearer(token)) as response:
        await assert_error(response, 404, "not_found")
    async with http.delete(f"/v1/files/{file['id']}", headers=bearer(token)) as response:
        await assert_error(response, 404, "not_found")


async def test_content_that_is_not_the_declared_type_is_rejected_and_deleted(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    owner = await signup(http)
    token = owner["access_token"]
    html = b"<html><script>alert(1)</script></html>" + b" " * 100
    created = await declared(http, token, filename="x.png", size=len(html))
    await put_bytes(created["upload"], html)
    async with await complete(http, token, created["file"]["id"]) as response:
        error = await assert_error(response, 400, "invalid_request")
    assert "not image/png" in error["message"]
    for key in (
        f"tenants/{owner['tenant']['id']}/files/{created['file']['id']}",
        f"uploads/{owner['tenant']['id']}/{created['file']['id']}",
    ):
        assert not await _object_exists(settings, s3_endpoint_url, key)
    # "400 and deletes it" (SPEC 4.3): the file is gone for every route.
    file_id = created["file"]["id"]
    async with http.get(f"/v1/files/{file_id}", headers=bearer(token)) as response:
        await assert_error(response, 404, "not_found")
    async with http.get("/v1/files", headers=bearer(token)) as response:
        assert file_id not in {f["id"] for f in (await response.json())["items"]}
    async with await complete(http, token, file_id) as response:
        await assert_error(response, 404, "not_found")
    async with http.delete(f"/v1/files/{file_id}", headers=bearer(token)) as response:
        await assert_error(response, 404, "not_found")


@pytest.mark.parametrize(
    "data", [b"\xff", b"\x80\x80\x80", b"hello\xff", "caf\u00e9".encode()[:-1]]
)
async def test_bytes_that_are_not_utf8_are_not_text(
    http: aiohttp.ClientSession, data: bytes
) -> None:
    """Invalid UTF-8 at a short file's end was forgiven as "a character cut by the
    window"; only the 512-byte window of a longer file may end inside one."""
    token = (await signup(http))["access_token"]
    created = await declared(
        http, token, filename="x.txt", content_type="text/plain", size=len(data)
    )
    await put_bytes(created["upload"], data)
    async with await complete(http, token, created["file"]["id"]) as response:
        error = await assert_error(response, 400, "invalid_request")
    assert "not text/plain" in error["message"]
    long_text = "€".encode() * 200  # 3 bytes each: the 512-byte window ends inside one
    assert (
        await uploaded(http, token, data=long_text, filename="y.txt", content_type="text/plain")
    )["status"] == "ready"


async def test_a_size_other_than_declared_is_rejected_and_deleted(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    owner = await signup(http)
    token = owner["access_token"]
    created = await declared(http, token, size=len(PNG) + 10)
    await put_bytes(created["upload"], PNG)
    async with await complete(http, token, created["file"]["id"]) as response:
        error = await assert_error(response, 400, "invalid_request")
    assert "declared" in error["message"]
    for key in (
        f"tenants/{owner['tenant']['id']}/files/{created['file']['id']}",
        f"uploads/{owner['tenant']['id']}/{created['file']['id']}",
    ):
        assert not await _object_exists(settings, s3_endpoint_url, key)


async def test_completing_before_uploading_is_a_400_and_deletes_the_file(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    """SPEC 4.3: complete checks the object exists, "or 400 and deletes it"."""
    owner = await signup(http)
    token = owner["access_token"]
    created = await declared(http, token)
    file_id = created["file"]["id"]
    async with await complete(http, token, file_id) as response:
        error = await assert_error(response, 400, "invalid_request")
    assert "nothing was uploaded" in error["message"]
    async with http.get(f"/v1/files/{file_id}", headers=bearer(token)) as response:
        await assert_error(response, 404, "not_found")
    # A PUT on the still-valid URL afterwards changes nothing for the API; the object it
    # leaves is the sweeper's (docs/files.md).
    await put_bytes(created["upload"], PNG)
    async with await complete(http, token, file_id) as response:
        await assert_error(response, 404, "not_found")
    async with http.get("/v1/files", headers=bearer(token)) as response:
        assert (await response.json())["items"] == []


async def test_oversize_and_disallowed_types_are_refused_before_any_upload(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    owner = await signup(http)
    token = owner["access_token"]
    async with await declare(http, token, size=settings.max_file_bytes + 1) as response:
        await assert_error(response, 413, "payload_too_large")
    for content_type in ("text/html", "application/x-msdownload", "image/svg+xml"):
        async with await declare(http, token, content_type=content_type) as response:
            error = await assert_error(response, 400, "invalid_request")
        assert [d["field"] for d in error["details"]] == ["content_type"]
    for bad in (
        {"filename": "", "content_type": "image/png", "size": 10},
        {"filename": "a\nb.png", "content_type": "image/png", "size": 10},
        {"filename": "a.png", "content_type": "image/png", "size": 0},
        {"filename": "a.png", "content_type": "not a type", "size": 10},
        {"filename": "a.png", "content_type": "image/png", "size": "ten"},
        {"filename": "a.png", "content_type": "image/png", "size": "10"},
        {"filename": "a.png", "content_type": "image/png", "size": True},
        {"filename": "a.png", "content_type": "image/png", "size": 10.5},
    ):
        async with http.post("/v1/files", json=bad, headers=bearer(token)) as response:
            await assert_error(response, 400, "invalid_request")
    async with http.get("/v1/files", headers=bearer(token)) as response:
        assert (await response.json())["items"] == []


async def test_a_declared_type_is_taken_without_case_or_parameters(
    http: aiohttp.ClientSession,
) -> None:
    owner = await signup(http)
    token = owner["access_token"]
    for given, kept in (("Image/PNG", "image/png"), ("text/plain; charset=utf-8", "text/plain")):
        created = await declared(http, token, content_type=given)
        assert created["file"]["content_type"] == kept
        assert created["upload"]["headers"]["Content-Type"] == kept


async def test_a_path_traversal_filename_is_only_metadata(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    owner = await signup(http)
    token, tenant_id = owner["access_token"], owner["tenant"]["id"]
    name = "../../../etc/passwd"
    ready = await uploaded(
        http, token, data=b"root:x:0:0\n", filename=name, content_type="text/plain"
    )
    assert ready["filename"] == name
    key = f"tenants/{tenant_id}/files/{ready['id']}"
    assert await _object_exists(settings, s3_endpoint_url, key)
    async with _s3(settings, s3_endpoint_url) as s3:
        listing = await s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix="")
    keys = [item["Key"] for item in listing.get("Contents", [])]
    assert not [k for k in keys if "etc" in k or ".." in k]
    async with http.get(f"/v1/files/{ready['id']}", headers=bearer(token)) as response:
        detail = await response.json()
    assert urlsplit(detail["download_url"]).path == f"/{settings.s3_bucket}/{key}"
    async with aiohttp.ClientSession() as s3_http, s3_http.get(detail["download_url"]) as got:
        disposition = got.headers["Content-Disposition"]
    assert "/" not in disposition.split(";", 1)[1].replace("%2F", "")
    assert 'filename=".._.._.._etc_passwd"' in disposition


async def test_another_tenants_file_is_not_found(http: aiohttp.ClientSession) -> None:
    a, b = await signup(http), await signup(http)
    created = await declared(http, a["access_token"])
    await put_bytes(created["upload"], PNG)
    file_id = created["file"]["id"]
    other = bearer(b["access_token"])
    async with http.get(f"/v1/files/{file_id}", headers=other) as response:
        await assert_error(response, 404, "not_found")
    async with http.post(f"/v1/files/{file_id}/complete", headers=other) as response:
        await assert_error(response, 404, "not_found")
    async with http.delete(f"/v1/files/{file_id}", headers=other) as response:
        await assert_error(response, 404, "not_found")
    async with http.get("/v1/files", headers=other) as response:
        assert (await response.json())["items"] == []
    # Still intact for its owner.
    async with await complete(http, a["access_token"], file_id) as response:
        assert response.status == 200


@pytest.mark.parametrize(
    "path_id",
    ["not-a-uuid", "1", "%2E%2E", "00000000-0000-0000-0000", "a" * 5000, "%00", "a%00b"],
    ids=lambda path_id: f"{path_id[:24]}({len(path_id)})",
)
async def test_an_id_that_is_not_a_uuid_is_not_found(
    http: aiohttp.ClientSession, path_id: str
) -> None:
    """Whatever it holds: a 5,000-character id, or a NUL, was a 400 that told it apart."""
    owner = bearer((await signup(http))["access_token"])
    async with http.get(f"/v1/files/{path_id}", headers=owner) as response:
        await assert_error(response, 404, "not_found")
    async with http.post(f"/v1/files/{path_id}/complete", headers=owner) as response:
        await assert_error(response, 404, "not_found")
    async with http.delete(f"/v1/files/{path_id}", headers=owner) as response:
        await assert_error(response, 404, "not_found")


async def _member_token(
    http: aiohttp.ClientSession, settings: Settings, owner: dict[str, Any]
) -> str:
    """Insert a ``member`` through the workers' repository, then log in over HTTP."""
    email = f"member-{uuid.uuid4().hex[:8]}@example.com"
    await add_member(settings, owner["tenant"]["id"], email)
    body = {"tenant": owner["tenant"]["slug"], "email": email, "password": PASSWORD}
    async with http.post(
        "/v1/auth/login", json=body, headers={"X-Auth-Mode": "bearer"}
    ) as response:
        assert response.status == 200, await response.text()
        token: str = (await response.json())["access_token"]
    return token


async def test_a_member_uploads_and_reads_but_cannot_delete(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    owner = await signup(http)
    member = await _member_token(http, settings, owner)
    ready = await uploaded(http, member)
    async with http.get(f"/v1/files/{ready['id']}", headers=bearer(member)) as response:
        assert response.status == 200
    async with http.delete(f"/v1/files/{ready['id']}", headers=bearer(member)) as response:
        await assert_error(response, 403, "forbidden")
    async with http.get(f"/v1/files/{ready['id']}", headers=bearer(member)) as response:
        assert (await response.json())["status"] == "ready"
    async with http.delete(
        f"/v1/files/{ready['id']}", headers=bearer(owner["access_token"])
    ) as response:
        assert response.status == 204


async def test_the_list_pages_newest_first(http: aiohttp.ClientSession) -> None:
    token = (await signup(http))["access_token"]
    ids = [(await declared(http, token, filename=f"f{i}.png"))["file"]["id"] for i in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        async with http.get("/v1/files", params=query, headers=bearer(token)) as response:
            assert response.status == 200
            page = await response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    for bad in ({"cursor": "garbage!"}, {"limit": "0"}, {"limit": "201"}, {"limit": "x"}):
        async with http.get("/v1/files", params=bad, headers=bearer(token)) as response:
            await assert_error(response, 400, "invalid_request")


async def test_only_the_uploader_completes_an_upload(
    http: aiohttp.ClientSession, settings: Settings
) -> None:
    """A failed check deletes the file: a member (files:write, no files:delete) must not
    be able to set that off on another user's upload in progress."""
    owner = await signup(http)
    slug, tenant_id, token = owner["tenant"]["slug"], owner["tenant"]["id"], owner["access_token"]
    await add_member(settings, tenant_id, "member@example.com")
    body = {"tenant": slug, "email": "member@example.com", "password": PASSWORD}
    async with http.post("/v1/auth/login", json=body, headers={"X-Auth-Mode": "bearer"}) as r:
        member = (await r.json())["access_token"]
    created = await declared(http, token)
    file_id = created["file"]["id"]
    async with await complete(http, member, file_id) as response:
        await assert_error(response, 403, "forbidden")
    await put_bytes(created["upload"], PNG)
    async with await complete(http, token, file_id) as response:
        assert response.status == 200, await response.text()


@pytest.mark.parametrize(
    "filename",
    [
        "x\u202etxt.exe",
        "csi\u009b31m.txt",
        "nel\u0085.txt",
        " ",
        ".",
        "..",
        " ... ",
        # Invisible, or only blank: an audit had all of these accepted.
        "invo\u200bice.pdf",  # shows as "invoice.pdf"
        "\u200b\u200b",
        "\U000e0041\U000e0042",  # tag characters
        "line\u2028break.txt",
        "\u00a0\u00a0",
        "\u3164",  # a Hangul filler
    ],
)
async def test_filenames_that_would_mislead_are_refused(
    http: aiohttp.ClientSession, filename: str
) -> None:
    """A name other users see must read as it is: no C1 controls, no format characters
    (the right-to-left override shows "x\u202etxt.exe" as "xexe.txt", a zero-width space
    hides in a name that looks like another), and not only dots, spaces or blanks."""
    owner = await signup(http)
    async with await declare(http, owner["access_token"], filename=filename) as response:
        error = await assert_error(response, 400, "invalid_request")
    assert [d["field"] for d in error["details"]] == ["filename"]


@pytest.mark.parametrize(
    "filename", ["\U0001f468\u200d\U0001f469\u200d\U0001f467.png", "\u0645\u06cc\u200c\u062e.png"]
)
async def test_joiners_that_emoji_and_scripts_need_are_kept(
    http: aiohttp.ClientSession, filename: str
) -> None:
    """The zero-width joiner and non-joiner are format characters too, but an emoji
    sequence and Persian spelling need them."""
    owner = await signup(http)
    assert (await declared(http, owner["access_token"], filename=filename))["file"][
        "filename"
    ] == filename


async def test_headers_the_uploader_adds_to_the_put_are_not_served(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    """A presigned PUT signs only the type and length, and S3 keeps other headers of the
    PUT and sends them with every GET: an audit uploaded with a year-long public
    Cache-Control (shared caches would keep serving the file after its deletion) and
    with Content-Encoding: gzip on plain bytes (no client could read the ready file).
    The file's copy keeps only its declared type, and downloads say private, no-store."""
    owner = await signup(http)
    token = owner["access_token"]
    created = await declared(http, token)
    await put_bytes(
        created["upload"],
        PNG,
        {
            "Cache-Control": "public, max-age=31536000, immutable",
            "Content-Encoding": "gzip",
            "Content-Language": "en",
            "Expires": "Thu, 01 Jan 2037 00:00:00 GMT",
            "x-amz-meta-note": "planted",
        },
    )
    async with await complete(http, token, created["file"]["id"]) as response:
        assert response.status == 200, await response.text()
    async with _s3(settings, s3_endpoint_url) as s3:
        stored = await s3.head_object(
            Bucket=settings.s3_bucket,
            Key=f"tenants/{owner['tenant']['id']}/files/{created['file']['id']}",
        )
    assert stored["ContentType"] == "image/png"
    for planted in ("CacheControl", "ContentEncoding", "ContentLanguage", "Expires"):
        assert not stored.get(planted), (planted, stored)
    assert not stored.get("Metadata")
    async with http.get(f"/v1/files/{created['file']['id']}", headers=bearer(token)) as r:
        detail = await r.json()
    async with (
        aiohttp.ClientSession(auto_decompress=False) as s3_http,
        s3_http.get(detail["download_url"]) as download,
    ):
        assert download.status == 200
        assert await download.read() == PNG
        assert download.headers["Cache-Control"] == "private, no-store"
        assert "Content-Encoding" not in download.headers
        assert "Expires" not in download.headers


async def test_completes_at_once_of_one_file_all_answer_ready(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    """Completing twice is harmless, also at the same moment: the file's row is locked
    while one complete copies and checks, and the others then find it ready (one used to
    find the staged upload gone and answer "rejected ... deleted" for a ready file)."""
    owner = await signup(http)
    token, tenant_id = owner["access_token"], owner["tenant"]["id"]
    created = await declared(http, token)
    await put_bytes(created["upload"], PNG)
    file_id = created["file"]["id"]

    async def completed() -> tuple[int, Any]:
        async with await complete(http, token, file_id) as response:
            return response.status, await response.json()

    answers = await asyncio.gather(*(completed() for _ in range(6)))
    assert [status for status, _ in answers] == [200] * 6, answers
    assert {body["status"] for _, body in answers} == {"ready"}
    assert await _object_exists(settings, s3_endpoint_url, f"tenants/{tenant_id}/files/{file_id}")


async def test_a_bucket_s3_lost_is_a_503_not_a_rejected_upload(
    http: aiohttp.ClientSession, settings: Settings, s3_endpoint_url: str
) -> None:
    """S3 answering NoSuchBucket (the bucket deleted, a storage reset) was taken for a
    missing upload: the file was rejected and deleted. It is S3 that is not ready: 503,
    the file stays pending, and the bucket is made again for the next request."""
    owner = await signup(http)
    token = str(owner["access_token"])
    created = await declared(http, token)
    await put_bytes(created["upload"], PNG)
    async with _s3(settings, s3_endpoint_url) as s3:
        listed = await s3.list_objects_v2(Bucket=settings.s3_bucket)
        for item in listed.get("Contents", []):
            await s3.delete_object(Bucket=settings.s3_bucket, Key=item["Key"])
        await s3.delete_bucket(Bucket=settings.s3_bucket)
    async with await complete(http, token, created["file"]["id"]) as response:
        await assert_error(response, 503, "unavailable")
    async with http.get(f"/v1/files/{created['file']['id']}", headers=bearer(token)) as r:
        assert (await r.json())["status"] == "pending"
    ready = await uploaded(http, token)  # the bucket is back
    assert ready["status"] == "ready"
