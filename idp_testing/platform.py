"""Run real ``idp edge`` and ``idp worker`` processes (and a local S3) for end-to-end tests.

The project's e2e tests and the pytest plugin both start the platform with this code."""

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait for the drain, and return the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Platform:
    """An edge and its workers, started as real processes with their own environment."""

    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.env}
        env.update(EDGE_HOST="127.0.0.1", EDGE_PORT=str(self.port), EDGE_PUBLIC_URL=self.url)
        # One worker process gets the metrics port; any further one logs that it is taken.
        env.setdefault("WORKER_METRICS_PORT", str(self.metrics_port))
        return env

    def spawn(self, name: str, *args: str) -> Process:
        log_path = self.log_dir / f"{name}-{len(self.processes)}.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "idp", *args],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = Process(name, popen, log_path)
        self.processes.append(process)
        return process

    def start_worker(self, *args: str) -> Process:
        return self.spawn("worker", "worker", *args)

    def start_edge(self) -> Process:
        return self.spawn("edge", "edge")

    def migrate(self, timeout: float = 120.0) -> None:
        """``idp migrate`` with the platform's environment; fails the run if it fails."""
        done = subprocess.run(
            [sys.executable, "-m", "idp", "migrate"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"idp migrate failed:\n{done.stdout}{done.stderr}", pytrace=False)

    def start_local_s3(self) -> Process | None:
        """A moto S3 server when no ``S3_ENDPOINT_URL`` is configured and moto is installed."""
        if self.environment().get("S3_ENDPOINT_URL") or importlib.util.find_spec("moto") is None:
            return None
        port = free_port()
        self.env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
        log_path = self.log_dir / "s3.log"
        with log_path.open("wb") as log:
            popen = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process = Process("s3", popen, log_path)
        self.processes.append(process)
        return process

    def wait_ready(self, path: str = "/readyz", timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            for process in self.processes:
                if process.popen.poll() is not None:
                    pytest.fail(f"{process.name} exited early:\n{process.log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=5) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except urllib.error.HTTPError as exc:
                last = f"HTTP {exc.code}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.2)
        logs = "\n".join(p.log()[-2000:] for p in self.processes)
        pytest.fail(f"platform not ready at {self.url}{path} after {timeout}s ({last}):\n{logs}")

    def stop(self) -> dict[str, int]:
        return {f"{p.name}-{i}": p.stop() for i, p in enumerate(reversed(self.processes))}
