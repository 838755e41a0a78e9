"""The CSRF origin rule (SPEC 4.1) on requests built in memory: pure logic."""

import pytest
from aiohttp.test_utils import make_mocked_request

from edge.origins import OriginPolicy
from tests.unit.conftest import make_settings


def _same_site(policy: OriginPolicy, host: str, **headers: str) -> bool:
    request = make_mocked_request("POST", "/v1/tenant", headers={"Host": host, **headers})
    return policy.is_same_site_request(request)


@pytest.mark.parametrize(
    ("origin", "expected"),
    [
        ("https://id.example.com", True),
        ("https://id.example.com/", True),
        # Our host over the other scheme: a page at http://id.example.com is not us.
        ("http://id.example.com", False),
        ("https://id.example.com.evil.example", False),
        ("https://evil.example", False),
        ("null", False),
    ],
)
def test_a_pinned_public_url_pins_the_scheme(origin: str, expected: bool) -> None:
    policy = OriginPolicy(make_settings(edge_public_url="https://id.example.com"))
    assert _same_site(policy, "id.example.com", Origin=origin) is expected


def test_without_a_public_url_our_host_passes_by_either_scheme() -> None:
    """Behind a TLS-terminating proxy the browser says https while the edge sees http, and
    locally localhost and 127.0.0.1 are the same edge."""
    policy = OriginPolicy(make_settings(edge_host="127.0.0.1", edge_port=3001))
    assert _same_site(policy, "localhost:3001", Origin="http://localhost:3001")
    assert _same_site(policy, "id.example.com", Origin="https://id.example.com")
    assert not _same_site(policy, "id.example.com", Origin="https://other.example.com")
    assert _same_site(policy, "127.0.0.1:3001", Referer="http://127.0.0.1:3001/app")
    assert not _same_site(policy, "127.0.0.1:3001")


def test_allowed_origins_pass_exactly() -> None:
    policy = OriginPolicy(make_settings(cors_allowed_origins="https://app.example"))
    assert _same_site(policy, "127.0.0.1:3001", Origin="https://app.example")
    assert not _same_site(policy, "127.0.0.1:3001", Origin="http://app.example")
