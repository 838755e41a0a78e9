"""``idp dev``: migrate, then run an edge, workers and (when none is configured) local S3."""

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from idp.bootstrap import migrate
from idp.preflight import check_all, check_amqp, check_redis, edge_port_taken
from idp.settings import Settings
from idp.topology import set_unrouted_policy

# How long each process may take to stop before it is killed: the edge drains requests
# for up to their budget (REQUEST_TIMEOUT_SECONDS, 10 s by default), a worker its
# in-flight messages for 15 s.
STOP_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ensure_free(host: str, port: int) -> None:
    """The edge's port must be ours: another server answering there would pass for a
    ready edge (its /readyz 200) before the edge itself failed to listen."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except OSError:
        family = socket.AF_INET  # the edge will say what is wrong with the host
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As the edge listens: a connection of the last run waiting out TIME_WAIT on the
        # port does not hold it, a server listening there does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise edge_port_taken(host, port, exc) from None


def _die_with_parent() -> None:
    """Run in each child before it starts: on Linux, SIGTERM when ``idp dev`` dies, even
    by SIGKILL, so that no edge, worker or S3 server is left serving on its own."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(argv: list[str], env: dict[str, str], **options: Any) -> subprocess.Popen[bytes]:
    """A child in a process group of its own: a terminal's Ctrl-C (SIGINT to the whole
    foreground group) or a signal to ``idp dev``'s group reaches ``idp dev`` alone, which
    then stops its children in order (``_stop_in_order``)."""
    return subprocess.Popen(argv, env=env, preexec_fn=_die_with_parent, process_group=0, **options)


def _child(command: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return _spawn([sys.executable, "-m", "idp", command], env)


def _stop_in_order(groups: list[list[subprocess.Popen[bytes]]]) -> None:
    """SIGTERM each group in turn, the next once the previous has exited: the edge first,
    so that it drains its requests while the workers still answer them (stopped at once,
    the workers handed back what they had not started, and the edge's callers waited out
    their budget for a 504), then the workers, then the S3 server they use."""
    for group in groups:
        for child in group:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        for child in group:
            try:
                child.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _wait_ready(
    url: str,
    children: list[subprocess.Popen[bytes]],
    stopping: Callable[[], bool],
    timeout: float = 60,
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        if any(child.poll() is not None for child in children):
            return False
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=3) as response,  # noqa: S310 - our own URL
        ):
            if response.status == 200:
                return True
        time.sleep(0.3)
    return False


async def _prepare(settings: Settings) -> None:
    # The broker and Redis first: one clear line (ServiceUnreachable) if either is away,
    # rather than one error per child process.
    await check_all(check_amqp(settings.amqp_url), check_redis(settings.redis_url))
    await migrate(settings)
    # Where it can: unknown routing keys then get a 404 reply (docs/messages.md).
    await asyncio.to_thread(set_unrouted_policy, settings.amqp_url)


def run_dev(settings: Settings, workers: int) -> int:
    """Run the whole platform in the foreground until Ctrl-C or SIGTERM.

    Returns the exit status: 0 after a stop that was asked for, 1 when the platform did
    not become ready or a process of it ended by itself."""
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    # From the start: a stop asked for during the checks or the migration (which is not
    # cut halfway) ends the run once it is done, before anything is started.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    _ensure_free(settings.edge_host, settings.edge_port)
    asyncio.run(_prepare(settings))
    if stopping:
        return 0
    env = dict(os.environ)
    storage: list[subprocess.Popen[bytes]] = []
    if not settings.s3_endpoint_url:
        port = _free_port()
        env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        storage.append(
            _spawn(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    worker_processes = [_child("worker", env) for _ in range(workers)]
    edge = _child("edge", env)
    children = [*storage, *worker_processes, edge]
    base = f"http://{settings.edge_host}:{settings.edge_port}"
    failed = False
    if _wait_ready(f"{base}/readyz", children, lambda: stopping):
        print(f"idp is ready: edge {base}  (readyz 200)", flush=True)
        if "S3_ENDPOINT_URL" in env:
            print(f"             S3 {env['S3_ENDPOINT_URL']}", flush=True)
        if settings.worker_metrics_port > 0 and workers == 1:
            metrics = f"http://{settings.worker_metrics_host}:{settings.worker_metrics_port}"
            print(f"             worker metrics {metrics}/metrics", flush=True)
        print("Ctrl-C stops everything.", flush=True)
    elif not stopping:
        print("idp: the platform did not become ready; see the logs above", file=sys.stderr)
        stopping = failed = True
    while not stopping and all(child.poll() is None for child in children):
        time.sleep(0.5)
    if not stopping:
        print("idp: a process of the platform ended; stopping the rest", file=sys.stderr)
        failed = True
    _stop_in_order([[edge], worker_processes, storage])
    return 1 if failed else 0
