"""A content header whose properties do not decode (idp/amqp_properties.py)."""

import struct

import pytest
from pamqp import header
from pamqp.commands import Basic

from idp import amqp_properties


def _frame(properties: Basic.Properties, replace: tuple[bytes, bytes]) -> bytes:
    data = header.ContentHeader(body_size=42, properties=properties).marshal()
    old, new = replace
    assert len(old) == len(new)
    assert data.count(old) == 1
    return data.replace(old, new)


def _decoded(frame: bytes) -> header.ContentHeader:
    amqp_properties.install()
    decoded = header.ContentHeader()
    decoded.unmarshal(frame)
    return decoded


def test_what_decoded_before_the_bad_property_stands_and_the_problem_is_named() -> None:
    frame = _frame(
        Basic.Properties(
            correlation_id="c-1", reply_to="replies", message_id="id-xx", message_type="t"
        ),
        (b"id-xx", b"\xff\xfe-xx"),
    )
    decoded = _decoded(frame)
    assert decoded.body_size == 42  # the body frames that follow are still read
    properties = decoded.properties
    assert (properties.correlation_id, properties.reply_to) == ("c-1", "replies")
    assert properties.message_id is None
    assert properties.message_type is None  # after the bad one: not read
    assert amqp_properties.undecodable(properties.headers) == "message_id: UnicodeDecodeError"


def test_a_header_name_that_is_not_utf8_keeps_nothing_of_the_headers() -> None:
    frame = _frame(
        Basic.Properties(content_type="application/json", headers={"kx": 1}),
        (b"\x02kx", b"\x02\xff\xfe"),
    )
    properties = _decoded(frame).properties
    assert properties.content_type == "application/json"
    assert properties.headers == {amqp_properties.UNDECODABLE_HEADER: "headers: UnicodeDecodeError"}


def test_a_well_formed_header_is_untouched_and_a_truncated_one_still_fails() -> None:
    sound = Basic.Properties(message_id="m", headers={"x-request-id": "r"})
    frame = header.ContentHeader(body_size=7, properties=sound).marshal()
    properties = _decoded(frame).properties
    assert properties.headers == {"x-request-id": "r"}
    assert amqp_properties.undecodable(properties.headers) is None
    with pytest.raises(struct.error):
        _decoded(frame[:6])
