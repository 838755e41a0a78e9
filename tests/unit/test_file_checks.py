"""Pure pieces of the files family: signatures, Content-Disposition, cursors, keys."""

import uuid
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from workers.errors import InvalidRequest, NotFound
from workers.files.signatures import matches
from workers.files.storage import content_disposition, object_key
from workers.ids import parse_id
from workers.pagination import decode_cursor, encode_cursor

SAMPLES = {
    "image/png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "image/jpeg": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "image/gif": b"GIF89a\x01\x00\x01\x00",
    "image/webp": b"RIFF\x24\x00\x00\x00WEBPVP8 ",
    "application/pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3",
    "text/plain": "héllo, wörld\n\tindented\r\n".encode(),
}


@pytest.mark.parametrize("content_type", sorted(SAMPLES))
def test_each_type_accepts_its_own_bytes_and_no_other(content_type: str) -> None:
    assert matches(content_type, SAMPLES[content_type], whole=True)
    for other, data in SAMPLES.items():
        if other != content_type:
            assert not matches(content_type, data, whole=True), (content_type, other)


def test_text_refuses_binary_and_tolerates_a_cut_character() -> None:
    assert not matches("text/plain", b"abc\x00def", whole=True)
    assert not matches("text/plain", b"\xff\xfe\x00a", whole=True)
    cut = "abc€".encode()[:-1]
    assert matches("text/plain", cut, whole=False)  # the window ended mid-character
    assert not matches("text/plain", cut, whole=True)  # the file itself ends there
    assert not matches("text/plain", b"<\x1b[31m", whole=True)
    # C1 controls are control characters too: U+009B is a terminal's CSI, U+0085 NEL.
    for c1 in ("\u009b31m", "line\u0085next"):
        assert not matches("text/plain", c1.encode(), whole=True), c1
    assert matches("text/plain", "\u00a0non-breaking, \u00e9".encode(), whole=True)
    # Bytes that are never UTF-8 are refused wherever they are, the end included: the
    # check forgave any bad last three bytes (an audit completed b"\xff" as text).
    for never in (b"\xff", b"\x80\x80\x80", b"hello\xff", b"hi\xc0\xaf"):
        for whole in (True, False):
            assert not matches("text/plain", never, whole=whole), (never, whole)
    assert matches("text/plain", "plain text, é, 😀".encode(), whole=True)


def test_unknown_types_never_match() -> None:
    assert not matches("text/html", b"<html>", whole=True)
    assert not matches("image/png", b"", whole=True)


def test_content_disposition_keeps_any_name_and_a_safe_fallback() -> None:
    name = 'a "quoted" \\ name/../Ünïcødé 文件.pdf'
    header = content_disposition(name)
    kind, fallback, star = header.split("; ")
    assert kind == "attachment"
    assert fallback == 'filename="a _quoted_ _ name_..__n_c_d_ __.pdf"'
    assert star.startswith("filename*=UTF-8''")
    assert unquote(star.removeprefix("filename*=UTF-8''")) == name.replace("/", "_").replace(
        "\\", "_"
    )
    assert header.isascii()
    # "%" would be decoded by some user agents in the fallback (RFC 6266, appendix D).
    assert 'filename="a_2Fb.txt"' in content_disposition("a%2Fb.txt")
    assert (
        content_disposition("文件")
        == "attachment; filename=\"__\"; filename*=UTF-8''%E6%96%87%E4%BB%B6"
    )


def test_object_keys_come_from_ids_only() -> None:
    tenant, file = uuid.uuid4(), uuid.uuid4()
    assert object_key(tenant, file) == f"tenants/{tenant}/files/{file}"


def test_cursors_round_trip_and_garbage_is_invalid() -> None:
    at, file_id = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, file_id)) == (at, file_id)
    for bad in ("", "!!", "bm90IGEgY3Vyc29y", encode_cursor(at, file_id)[:-3]):
        with pytest.raises(InvalidRequest) as refused:
            decode_cursor(bad)
        assert refused.value.details is not None  # the files list names the field too
        assert [d.field for d in refused.value.details] == ["cursor"]


def test_a_path_id_that_is_not_a_uuid_in_its_written_form_is_not_found() -> None:
    known = uuid.UUID("6f1c0b9e-2a4d-4c8e-9b1a-3d5e7f9a1b2c")
    assert parse_id(str(known), "file") == known
    assert parse_id(str(known).upper(), "file") == known
    for other in ("../../etc", known.hex, f"{{{known}}}", f"urn:uuid:{known}", f" {known}"):
        with pytest.raises(NotFound):
            parse_id(other, "file")
