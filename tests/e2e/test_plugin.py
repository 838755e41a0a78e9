"""The pytest plugin works for an outside suite: no conftest, only the idp_* fixtures."""

import os
import subprocess
import sys
from pathlib import Path

from idp.settings import Settings
from idp_testing.services import sibling_vhost

OUTSIDE_TEST = """
import pytest

from idp_client import Unauthenticated


async def test_a_new_tenant_owner_is_logged_in(idp_tenant_factory):
    tenant = await idp_tenant_factory()
    me = await tenant.client.me()
    assert me.tenant.slug == tenant.slug
    assert me.role == "owner"


async def test_every_call_makes_another_tenant(idp_tenant_factory, idp_client):
    first = await idp_tenant_factory()
    second = await idp_tenant_factory(name="Second")
    assert first.slug != second.slug
    assert second.login.tenant.name == "Second"
    with pytest.raises(Unauthenticated):
        await idp_client.me()


def test_the_base_url_answers(idp_base_url, idp_platform):
    assert idp_platform.base_url == idp_base_url
    assert idp_base_url.startswith("http://127.0.0.1:")
"""

OUTSIDE_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = session
asyncio_default_test_loop_scope = session
"""


def test_an_outside_suite_gets_a_platform_a_client_and_tenants(
    settings: Settings, tmp_path: Path
) -> None:
    suite = tmp_path / "other_system"
    suite.mkdir()
    (suite / "pytest.ini").write_text(OUTSIDE_INI)
    (suite / "test_with_idp.py").write_text(OUTSIDE_TEST)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "PYTEST_"))}
    # Its own broker vhost: the plugin makes fresh JWT secrets, which this session's
    # workers would not accept.
    env["AMQP_URL"] = sibling_vhost(settings.amqp_url, "outside")
    env["OUTBOX_RELAY"] = "false"  # the session platform relays the shared outbox
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(suite)],
        cwd=suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "3 passed" in output, output
