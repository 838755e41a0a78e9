"""compose.yaml, read as Docker Compose would (no Docker engine runs here): the platform's
services name only real settings, and RabbitMQ sets the policy `idp dev` sets."""

import subprocess
from pathlib import Path
from typing import Any

import yaml

from idp.settings import Settings
from idp.topology import UNROUTED_POLICY, UNROUTED_POLICY_DEFINITION, UNROUTED_POLICY_PATTERN

ROOT = Path(__file__).resolve().parents[2]


def _services() -> dict[str, Any]:
    services: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    return services


def test_the_platforms_services_set_only_settings_it_reads() -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name in ("migrate", "worker", "edge"):
        environment = set(_services()[name]["environment"])
        assert environment <= fields, (name, environment - fields)


def test_rabbitmq_starts_the_server_and_sets_the_unrouted_policy(tmp_path: Path) -> None:
    rabbitmq = _services()["rabbitmq"]
    script, _, mounted = rabbitmq["volumes"][0].rpartition(":ro")[0].partition(":")
    assert rabbitmq["entrypoint"] == ["sh", mounted]
    calls = tmp_path / "calls"
    # rabbitmqctl answers "not yet" twice before the node is up, as a starting node does.
    (tmp_path / "rabbitmqctl").write_text(
        "#!/bin/sh\n"
        f'n=$(cat "{tmp_path}/n" 2>/dev/null || echo 0); echo $((n + 1)) > "{tmp_path}/n"\n'
        f'if [ "$2" = await_startup ] && [ "$n" -lt 2 ]; then exit 69; fi\n'
        f'printf "%s\\n" rabbitmqctl "$@" >> "{calls}"\n'
    )
    # The image's entrypoint: runs until the policy is set, as the server would run on.
    (tmp_path / "docker-entrypoint.sh").write_text(
        "#!/bin/sh\n"
        f'printf "%s\\n" entrypoint "$@" >> "{calls}"\n'
        f'for _ in $(seq 1 100); do grep -q set_policy "{calls}" && exit 0; sleep 0.1; done\n'
        "exit 1\n"
    )
    for fake in ("rabbitmqctl", "docker-entrypoint.sh"):
        (tmp_path / fake).chmod(0o755)
    done = subprocess.run(
        ["sh", str(ROOT / script.removeprefix("./"))],
        env={"PATH": f"{tmp_path}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = calls.read_text().splitlines()
    assert lines[:2] == ["entrypoint", "rabbitmq-server"]
    assert lines[-8:] == [
        "rabbitmqctl",
        "-q",
        "set_policy",
        "--apply-to",
        "exchanges",
        UNROUTED_POLICY,
        UNROUTED_POLICY_PATTERN,
        UNROUTED_POLICY_DEFINITION,
    ]
    assert "idp-rpc-unrouted set" in done.stdout
