"""Whose count a request adds to under the per-address limit (SPEC 4.5)."""

import pytest

from idp.security.address_limit import bucket


@pytest.mark.parametrize(
    ("rate_key", "counted_as"),
    [
        ("203.0.113.7", "203.0.113.7"),
        # One subscriber's /64: every address in it is one client.
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::9", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::9", "2001:db8:1:3::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        # An IPv4 client seen through a dual-stack socket is that IPv4 client.
        ("::ffff:203.0.113.7", "203.0.113.7"),
        # Not addresses: a publisher's broker account, the shared bucket.
        ("broker:billing", "broker:billing"),
        ("-", "-"),
    ],
)
def test_an_ipv6_client_is_counted_by_its_64_and_everything_else_as_it_is(
    rate_key: str, counted_as: str
) -> None:
    assert bucket(rate_key) == counted_as
