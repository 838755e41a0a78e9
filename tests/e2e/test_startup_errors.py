"""SPEC 2: a service that cannot be reached gives one clear line naming the URL and how
to start it, never a traceback, and a non-zero exit, from every command that needs it."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import aiohttp
import asyncpg
import pytest

from idp.settings import Settings
from idp.topology import UNROUTED_POLICY
from tests.support.env import vhost_of


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(command: str, **overrides: str) -> tuple[int, list[str]]:
    env = {**os.environ, "LOG_LEVEL": "WARNING", **overrides}
    done = subprocess.run(
        [sys.executable, "-m", "idp", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, [
        line for line in (done.stdout + done.stderr).splitlines() if line.strip()
    ]


# What each command connects to: the edge never to PostgreSQL (SPEC 1), migrations only
# to it.
NEEDS = [
    *(
        (command, service)
        for command in ("worker", "dev")
        for service in ("RabbitMQ", "Redis", "PostgreSQL")
    ),
    ("edge", "RabbitMQ"),
    ("edge", "Redis"),
    ("migrate", "PostgreSQL"),
]


@pytest.mark.parametrize(("command", "service"), NEEDS)
def test_a_dead_service_is_one_clear_line(settings: Settings, command: str, service: str) -> None:
    port = _dead_port()
    dead = {
        "RabbitMQ": {"AMQP_URL": f"amqp://guest:guest@127.0.0.1:{port}/"},
        "Redis": {"REDIS_URL": f"redis://127.0.0.1:{port}/0"},
        "PostgreSQL": {
            "DATABASE_URL": f"postgresql://idp_app:idp_app@127.0.0.1:{port}/idp_test",
            "DATABASE_OWNER_URL": f"postgresql://idp_owner:idp_owner@127.0.0.1:{port}/idp_test",
        },
    }[service]
    code, output = _run(command, **dead, LOG_LEVEL="INFO", EDGE_PORT=str(_dead_port()))
    assert code == 3, output
    assert len(output) == 1, output
    (line,) = output
    assert line.startswith(f"idp: {service} is not reachable at "), line
    assert f"127.0.0.1:{port}" in line
    assert "Traceback" not in line
    if command in {"migrate", "dev"} and service == "PostgreSQL":
        # The admin URL migrate tries first is made from DATABASE_URL (no
        # DATABASE_ADMIN_URL here): the line says so, or it names a URL nobody set.
        assert (
            f"postgresql://postgres@127.0.0.1:{port}/postgres, derived from DATABASE_URL," in line
        )


@pytest.mark.parametrize(
    ("command", "variable", "url", "hint"),
    [
        ("edge", "AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/idp-no-such-vhost", "add_vhost"),
        ("worker", "AMQP_URL", "amqp://guest:wrong@127.0.0.1:5672/", "wrong user or password"),
        (
            "worker",
            "DATABASE_URL",
            "postgresql://idp_app:idp_app@127.0.0.1:5432/idp_no_such_db",
            "`idp migrate` creates it",
        ),
    ],
)
def test_a_service_that_refuses_us_is_one_line_saying_what_to_fix(
    settings: Settings, command: str, variable: str, url: str, hint: str
) -> None:
    """Up but refusing (a missing vhost or database, a wrong password) was "not reachable:
    start it", and a missing vhost said only that a frame was unexpected."""
    code, output = _run(command, **{variable: url}, EDGE_PORT=str(_dead_port()))
    assert code == 3, output
    assert len(output) == 1, output
    service = "RabbitMQ" if variable == "AMQP_URL" else "PostgreSQL"
    assert output[0].startswith(f"idp: {service} at "), output
    assert "refused the connection" in output[0], output
    assert hint in output[0], output


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "garbage"),
        ("DATABASE_URL", "mysql://a@b/c"),
        ("DATABASE_URL", "postgresql://idp_app:idp_app@127.0.0.1:abc/idp_test"),
        ("REDIS_URL", "redis://127.0.0.1:99999/0"),
        ("REDIS_URL", "garbage"),
        ("AMQP_URL", "garbage"),
        ("S3_ENDPOINT_URL", "garbage"),
        ("EDGE_PORT", "99999"),  # was taken modulo 65536: the edge listened on 34463
        ("EDGE_PORT", "0"),
        ("LOG_LEVEL", "verbose"),  # was logging's traceback at start
        ("TRUSTED_PROXIES", "10.0.0.0/8,garbage"),  # was the edge's traceback after connecting
        ("CORS_ALLOWED_ORIGINS", "notaurl"),  # was accepted and matched nothing
        ("CORS_ALLOWED_ORIGINS", "https://app.example.com/login"),
    ],
)
def test_a_malformed_setting_is_one_clear_line(variable: str, value: str) -> None:
    """A URL no driver can use was a traceback from deep inside it (asyncpg's invalid
    DSN, redis-py's scheme check, botocore's endpoint check)."""
    code, output = _run("worker", **{variable: value})
    assert code == 2, output
    assert len(output) == 1, output
    assert output[0].startswith(f"idp: invalid configuration: {variable}: "), output


def test_a_port_already_taken_is_one_clear_line() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, output = _run("edge", EDGE_PORT=str(port))
    assert code == 3, output
    assert len(output) == 1, output
    assert output[0].startswith(f"idp: the edge cannot listen on 127.0.0.1:{port} "), output
    assert "address already in use" in output[0]


@pytest.mark.parametrize(
    ("database_url", "says"),
    [
        ("postgresql://127.0.0.1:5432/idp_test", "must name its role and database"),
        ("postgresql://idp_app:idp_app@127.0.0.1:5432", "must name its role and database"),
        # The admin's own role as the application's: migrate altered it NOSUPERUSER.
        ("postgresql://postgres@127.0.0.1:5432/idp_test", "must be one of its own"),
    ],
)
def test_migrate_says_what_is_wrong_with_a_database_url_in_one_line(
    database_url: str, says: str
) -> None:
    code, output = _run("migrate", DATABASE_URL=database_url, DATABASE_OWNER_URL="")
    assert code == 3, output
    assert len(output) == 1, output
    assert says in output[0], output
    assert "Traceback" not in output[0]


async def test_migrate_never_demotes_a_superuser_named_as_the_application_role(
    settings: Settings,
) -> None:
    """A superuser is not bound by row-level security: as the application role it is
    refused, and left as it was (migrate used to ALTER it NOSUPERUSER, which could leave
    the cluster without one)."""
    role = f"idp_test_super_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(settings.admin_database_url)
    try:
        await admin.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')
        code, output = await asyncio.to_thread(
            _run,
            "migrate",
            DATABASE_URL=f"postgresql://{role}@127.0.0.1:5432/idp_test",
            DATABASE_OWNER_URL="",
        )
        assert code == 3, output
        assert len(output) == 1, output
        assert "is a superuser" in output[0], output
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = $1", role)
    finally:
        await admin.execute(f'DROP ROLE IF EXISTS "{role}"')
        await admin.close()


@pytest.mark.parametrize("command", ["edge", "worker"])
def test_a_service_that_fails_at_once_does_not_leave_the_others_hanging(command: str) -> None:
    """Redis refusing at once while the RabbitMQ check is still connecting: the checks
    ran under gather, which cancelled RabbitMQ's mid-handshake, and the start-up then hung
    silent (1 in 3 to 1 in 12 starts). A few starts in a row, each one line."""
    for _ in range(4):
        code, output = _run(
            command, REDIS_URL="redis://127.0.0.1:6379/99", EDGE_PORT=str(_dead_port())
        )
        assert code == 3, output
        assert len(output) == 1, output
        assert output[0].startswith("idp: Redis at redis://127.0.0.1:6379/99 refused"), output
        assert "database number" in output[0], output


def test_dev_refuses_an_edge_port_another_server_holds() -> None:
    """Another server answering 200 on EDGE_PORT passed for the ready edge (`idp dev`
    printed "ready", then the edge failed to listen)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, output = _run("dev", EDGE_HOST="127.0.0.1", EDGE_PORT=str(port))
    assert code == 3, output
    assert len(output) == 1, output
    assert f"the edge cannot listen on 127.0.0.1:{port}" in output[0], output
    assert not any("idp is ready" in line for line in output)


def _dev(port: int, *, own_group: bool = False, **overrides: str) -> subprocess.Popen[str]:
    """``idp dev`` with its edge on ``port``, its output readable by ``_ready``."""
    env = {
        **os.environ,
        "LOG_LEVEL": "WARNING",
        "EDGE_PORT": str(port),
        "WORKER_METRICS_PORT": "0",
        **overrides,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "idp", "dev"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=own_group,
    )


def _ready(dev: subprocess.Popen[str]) -> bool:
    """Whether ``dev`` says it is ready within its first 50 lines of output."""
    assert dev.stdout is not None
    return any("idp is ready" in dev.stdout.readline() for _ in range(50))


def test_dev_killed_outright_takes_its_processes_with_it(settings: Settings) -> None:
    """SIGKILL leaves `idp dev` no chance to stop its children: they are asked to stop by
    the kernel (PR_SET_PDEATHSIG) instead of serving on, orphaned."""
    dev = _dev(_dead_port())
    try:
        assert _ready(dev), "idp dev did not become ready"
        children = _children_of(dev.pid)
        assert len(children) >= 2, children  # a worker and the edge (and moto)
        # Where this machine's rabbitmqctl manages the broker, unknown routing keys get a
        # reply: idp dev made idp.rpc.unrouted idp.rpc's alternate exchange by policy.
        policies = subprocess.run(
            ["rabbitmqctl", "-q", "list_policies", "-p", vhost_of(settings.amqp_url)],
            capture_output=True,
            text=True,
            check=True,
        )
        assert UNROUTED_POLICY in policies.stdout
        dev.kill()
        dev.wait(10)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(pid) for pid in children):
            time.sleep(0.2)
        assert not [pid for pid in children if _alive(pid)], "children outlived idp dev"
    finally:
        if dev.poll() is None:
            dev.kill()
            dev.wait(10)
        if dev.stdout is not None:
            dev.stdout.close()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill-group"])
def test_a_stop_of_the_whole_dev_group_lets_requests_in_flight_finish(stop: int) -> None:
    """Ctrl-C in a terminal (SIGINT), or ``kill -- -PGID``, signals every process of the
    group at once. The workers stopped in half a second, handing back what they had not
    started, and the edge then held its callers for their whole budget and answered 504
    (an audit: 21 to 36 of 40 logins in flight). ``idp dev`` now keeps its children out
    of that group and stops the edge first, which drains, then the workers."""
    port = _dead_port()
    # Logins that take the worker a while: the production parameters. Its own group, as
    # a terminal's foreground job is.
    dev = _dev(port, own_group=True, ARGON2_MEMORY_KIB="19456", ARGON2_TIME_COST="2")
    try:
        assert _ready(dev), "not ready"
        statuses, stopped_in = asyncio.run(_logins_across_a_group_stop(dev, port, 40, stop))
        assert statuses == [200] * 40, statuses
        assert dev.wait(30) == 0
        assert stopped_in < 8.0, stopped_in  # not the 10 s budget of a stranded request
    finally:
        if dev.poll() is None:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait(10)
        if dev.stdout is not None:
            dev.stdout.close()


async def _logins_across_a_group_stop(
    dev: subprocess.Popen[str], port: int, count: int, stop: int
) -> tuple[list[int], float]:
    """``count`` logins at once, with ``stop`` sent to ``dev``'s whole group while they
    are in flight; their statuses, and how long ``dev`` took to exit after the signal."""
    base = f"http://127.0.0.1:{port}"
    owner = {"email": "owner@example.com", "password": "a long enough passphrase", "name": "O"}
    slug = f"t-{uuid.uuid4().hex[:12]}"
    bearer = {"X-Auth-Mode": "bearer"}
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(base, connector=connector, headers=bearer) as http:
        signup = {"slug": slug, "name": "Stop", "owner": owner}
        async with http.post("/v1/tenants", json=signup) as response:
            assert response.status == 201, await response.text()
        login = {"tenant": slug, "email": owner["email"], "password": owner["password"]}

        async def one() -> int:
            async with http.post("/v1/auth/login", json=login) as response:
                return response.status

        calls = [asyncio.create_task(one()) for _ in range(count)]
        await asyncio.sleep(0.05)  # sent; most still queued for the worker's Argon2
        os.killpg(dev.pid, stop)
        signalled = time.monotonic()
        statuses = list(await asyncio.gather(*calls))
    await asyncio.to_thread(dev.wait, 30)
    return statuses, time.monotonic() - signalled


def _children_of(pid: int) -> list[int]:
    found = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True, check=False
    )
    return [int(line) for line in found.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_a_worker_refuses_a_database_role_rls_does_not_bind() -> None:
    """A superuser in DATABASE_URL (its migration refused, or the database migrated by
    another URL) made a worker serve with no tenant isolation at all."""
    code, output = _run("worker", DATABASE_URL="postgresql://postgres@127.0.0.1:5432/idp_test")
    assert code == 3, output
    assert len(output) == 1, output
    assert "not bound by row-level security" in output[0], output


def test_dev_starts_again_on_a_port_its_last_run_left_in_time_wait() -> None:
    """The readiness probe's connection, closed by the edge, leaves the port in TIME_WAIT
    for a minute: the free-port check refused every quick restart until it took
    SO_REUSEADDR, as the edge's own listening socket does."""
    from idp.dev import _ensure_free

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp's
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()  # the server side closes first: its end waits in TIME_WAIT
        client.close()
    _ensure_free("127.0.0.1", port)
