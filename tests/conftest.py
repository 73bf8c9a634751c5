"""Shared fixtures: Redis servers (real, embedded, private) and Celery worker processes.

Every fixture that starts something stops it on teardown, also when the test fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queue2celery import embedded_redis
from queue2celery.celery_tasks import WorkerProcess, start_worker

REAL_REDIS_DEFAULT = "redis://127.0.0.1:6379/0"


def _require_redis() -> bool:
    return os.environ.get("Q2C_REQUIRE_REDIS") == "1"


def _unavailable(reason: str) -> None:
    if _require_redis():
        pytest.fail(f"{reason} (Q2C_REQUIRE_REDIS=1, so this fails instead of skipping)")
    pytest.skip(reason)


def real_redis_url() -> str:
    return os.environ.get("REDIS_URL") or REAL_REDIS_DEFAULT


@pytest.fixture(scope="session")
def _real_redis_checked() -> str:
    url = real_redis_url()
    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        _unavailable(f"no real Redis answers at REDIS_URL ({type(exc).__name__}: {exc})")
    return url


@pytest.fixture
def real_redis(_real_redis_checked: str) -> str:
    """The URL of the machine's real Redis (marked tests skip or fail without one)."""
    return _real_redis_checked


@pytest.fixture
def embedded_url() -> Iterator[str]:
    """A fresh embedded fakeredis server for this test."""
    with embedded_redis() as url:
        yield url


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def broker_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once on the embedded server and once on the real Redis."""
    if request.param == "embedded":
        with embedded_redis() as url:
            yield url
    else:
        yield request.getfixturevalue("real_redis")


@pytest.fixture
def unique_name() -> str:
    """A name no other test uses (queue names, key prefixes) on the shared Redis."""
    return f"q2ctest-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def worker_factory() -> Iterator[Callable[..., WorkerProcess]]:
    """Start real Celery worker processes; all are stopped on teardown.

    ``worker_factory("module:app", cwd=path, env={...}, ready=True, **start_worker kwargs)``
    """
    started: list[WorkerProcess] = []

    def _start(
        app: str, *, ready: bool = True, ready_timeout: float = 60.0, **kwargs: Any
    ) -> WorkerProcess:
        worker = start_worker(app, **kwargs)
        started.append(worker)
        if ready:
            worker.wait_ready(ready_timeout)
        return worker

    yield _start
    for worker in started:
        worker.stop()


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Path]:
    """Write ``name.py`` into a temp dir on sys.path (also the cwd to give a worker)."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def _write(name: str, source: str) -> Path:
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        return path

    return _write


def unused_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    return unused_port()


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """``wait_until(check, timeout=30, *, interval=0.05, what="", detail=None)``: poll
    ``check`` until it returns something truthy and return that; fail the test on timeout,
    saying ``what`` was awaited and, with ``detail()``, the state things were left in."""

    def _wait(
        check: Callable[[], Any],
        timeout: float = 30.0,
        *,
        interval: float = 0.05,
        what: str = "",
        detail: Callable[[], str] | None = None,
    ) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() >= deadline:
                extra = f"\n{detail()}" if detail is not None else ""
                pytest.fail(f"timed out after {timeout:g}s waiting for {what or check!r}{extra}")
            time.sleep(interval)

    return _wait


class RedisServer:
    """A private ``redis-server`` on a spare port, for tests that stop or freeze Redis."""

    def __init__(
        self,
        binary: str,
        port: int,
        password: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.binary = binary
        self.port = port
        self.password = password
        self.extra_args = extra_args  # more redis-server options, e.g. ("--cluster-enabled", "yes")
        self.url = f"redis://127.0.0.1:{port}/0"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.popen = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--logfile",
                "",
                *(["--requirepass", self.password] if self.password else []),
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        client = redis.Redis(
            port=self.port,
            password=self.password,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
        )
        while time.monotonic() < deadline:
            try:
                client.ping()
                return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer in {timeout}s")

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.thaw()
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)
        self.popen = None

    def freeze(self) -> None:
        assert self.popen is not None
        os.kill(self.popen.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGCONT)


@pytest.fixture
def redis_server_factory() -> Iterator[Callable[..., RedisServer]]:
    """Start private redis-server processes on spare ports (never the shared one):
    ``redis_server_factory(*extra_args, password=None)``."""
    binary = shutil.which("redis-server")
    servers: list[RedisServer] = []

    def _make(*extra_args: str, password: str | None = None) -> RedisServer:
        if binary is None:
            _unavailable("redis-server is not installed (apt-get install redis-server)")
        server = RedisServer(binary, unused_port(), password, extra_args)  # type: ignore[arg-type]
        servers.append(server)
        server.start()
        return server

    yield _make
    for server in servers:
        server.stop()
