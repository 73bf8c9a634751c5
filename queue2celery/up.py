"""``queue2celery up``: Redis, the worker(s), beat and the API, each after the one before it
is ready, in one log stream; stopped in reverse order.

Readiness, not start order, is the point (a Procfile runner such as honcho starts everything
at once): a worker started before Redis answers retries in the background, an API started
before any worker takes requests whose tasks nobody runs. Ready means: Redis answers PING,
the worker answers a control ping, beat holds the scheduler lock, the API answers HTTP.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._up_checks import EMBEDDED, http_answers, lock_note, port_free, redis_for
from ._up_children import Child, LogStream, exit_code_of, wait_for
from .celery_tasks.beat import ACQUIRED_MARK, BeatOptions, beat_argv
from .celery_tasks.worker import celery_command, worker_argv
from .errors import ConfigError

__all__ = ["EMBEDDED", "UpResult", "UpSpec", "run_up"]

_URL_ENV = ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")


@dataclass(frozen=True)
class UpSpec:
    """What to run. ``redis_url`` None: REDIS_URL, else the default URL if it answers, else
    the embedded server."""

    app: str
    api: str | None = None
    port: int = 8000
    host: str = "127.0.0.1"
    redis_url: str | None = None
    workers: int = 1
    beat: bool = True
    cwd: str | None = None
    ready_timeout: float = 60.0
    stop_timeout: float = 10.0
    beat_options: BeatOptions = field(default_factory=BeatOptions)


@dataclass
class UpResult:
    """How the stack ended: ``failed`` names the child that died or was never ready."""

    exit_code: int
    reason: str  # "stopped" | "died" | "not ready" | "error"
    message: str
    failed: str | None = None
    redis_url: str | None = None
    pids: dict[str, int] = field(default_factory=dict)


def _load_app(spec: UpSpec) -> Any:
    from celery.app.utils import find_app

    directory = spec.cwd or os.getcwd()
    if directory not in sys.path:
        sys.path.insert(0, directory)
    try:
        return find_app(spec.app)
    except Exception as exc:  # the user's module: any import error is theirs to see
        raise ConfigError(
            f"could not import the Celery app {spec.app!r} ({type(exc).__name__}: {exc}): "
            "give -A MODULE[:ATTR] importable from the current directory"
        ) from exc


class _Stack:
    def __init__(self, spec: UpSpec, stream: LogStream, stopping: threading.Event) -> None:
        self.spec = spec
        self.stream = stream
        self.stopping = stopping
        self.children: list[Child] = []
        self.app: Any = None

    def log(self, text: str) -> None:
        self.stream.line("up", text)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env=env, cwd=self.spec.cwd, stream=self.stream)
        self.children.append(child)
        self.log(f"{name} started (pid {child.pid})")
        return child

    def await_ready(self, child: Child, what: str, check: Callable[[], bool]) -> UpResult | None:
        outcome = wait_for(
            check, timeout=self.spec.ready_timeout, child=child, stopping=self.stopping
        )
        if outcome == "ready":
            self.log(f"{child.name} ready ({what})")
            return None
        if outcome == "stopped":
            return UpResult(0, "stopped", "stopped before the stack was up")
        if outcome == "died":
            code = child.returncode() or 0
            return UpResult(
                exit_code_of(code),
                "died",
                f"{child.name} exited with code {code} before it was ready ({what})",
                failed=child.name,
            )
        return UpResult(
            1,
            "not ready",
            f"{child.name} was not ready within {self.spec.ready_timeout:.0f}s ({what})",
            failed=child.name,
        )

    def stop_all(self) -> None:
        for child in reversed(self.children):
            if child.returncode() is None:
                self.log(f"stopping {child.name}")
            child.stop(self.spec.stop_timeout)

    def watch(self) -> UpResult:
        while not self.stopping.wait(0.1):
            for child in self.children:
                code = child.returncode()
                if code is not None:
                    return UpResult(
                        exit_code_of(code),
                        "died",
                        f"{child.name} exited with code {code}; stopping the stack",
                        failed=child.name,
                    )
        return UpResult(0, "stopped", "stopped")


def _bring_up(stack: _Stack, url: str, source: str) -> UpResult | None:
    spec = stack.spec
    env = dict(os.environ)
    for name in _URL_ENV:
        if source == "env":
            # The user's own REDIS_URL: their CELERY_* URLs, if set, stay theirs.
            env.setdefault(name, url)
        else:
            env[name] = url
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The control ping below needs the user's app, configured as the children see it.
    saved = {name: os.environ.get(name) for name in _URL_ENV}
    os.environ.update({name: env[name] for name in _URL_ENV})
    try:
        app = stack.app = _load_app(spec)
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    host = socket.gethostname()
    for index in range(1, spec.workers + 1):
        name = f"worker{index}" if spec.workers > 1 else "worker"
        nodename = f"up-{name}-{uuid.uuid4().hex[:6]}@{host}"
        argv = worker_argv(spec.app, ["--loglevel=INFO", "-n", nodename], environ=env)
        child = stack.start(name, celery_command(argv), env)

        def pinged(node: str = nodename) -> bool:
            try:
                return bool(app.control.ping(destination=[node], timeout=0.5))
            except Exception:  # the broker hiccuped: not ready yet, ask again
                return False

        failed = stack.await_ready(child, "answers a control ping", pinged)
        if failed:
            return failed
    if spec.beat:
        beat_env = {**env, **spec.beat_options.env()}
        beat = stack.start("beat", celery_command(beat_argv(spec.app)), beat_env)
        started: list[float] = []

        def holds_lock() -> bool:
            if beat.saw(ACQUIRED_MARK):
                return True
            if not started and beat.saw("beat: Starting"):
                started.append(time.monotonic())
            # Our own beat takes a free lock within milliseconds of starting: one still
            # waiting after a couple of seconds waits for someone else's.
            if len(started) == 1 and time.monotonic() - started[0] > 2.0:
                started.append(0.0)
                note = lock_note(app, url)
                if note:
                    stack.log(note)
            return False

        failed = stack.await_ready(beat, "holds the scheduler lock", holds_lock)
        if failed:
            return failed
    if spec.api:
        argv = [sys.executable, "-m", "uvicorn", spec.api, "--host", spec.host]
        child = stack.start("api", [*argv, "--port", str(spec.port)], env)
        address = f"http://{spec.host}:{spec.port}/"
        failed = stack.await_ready(
            child, f"answers HTTP at {address}", lambda: http_answers(address)
        )
        if failed:
            return failed
    return None


def run_up(
    spec: UpSpec,
    *,
    write: Callable[[str], None],
    color: bool = False,
    stopping: threading.Event | None = None,
) -> UpResult:
    """Run the stack until ``stopping`` is set or a child exits; everything is stopped on return.

    Log lines go to ``write``. Raises ConfigError for bad options before anything starts.
    """
    if spec.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {spec.workers!r}")
    if not 0 < spec.port < 65536:
        raise ConfigError(f"--port must be a TCP port (1-65535), got {spec.port!r}")
    if spec.api is not None and ":" not in spec.api:
        raise ConfigError(f"--api needs MODULE:APP, got {spec.api!r}: e.g. --api myapp.main:app")
    spec.beat_options.env()  # a lock timeout that could lapse is refused before anything runs
    if spec.api is not None and not port_free(spec.host, spec.port):
        raise ConfigError(
            f"port {spec.port} on {spec.host} is in use (another API still running?): "
            "stop it or pass --port N"
        )
    stopping = stopping or threading.Event()
    stream = LogStream(write, color=color)
    stack = _Stack(spec, stream, stopping)
    result: UpResult
    with redis_for(spec.redis_url, lambda text: stream.line("redis", text)) as (url, source):
        try:
            failed = _bring_up(stack, url, source)
            if failed is None:
                stack.log("the stack is up; Ctrl-C stops it")
                result = stack.watch()
            else:
                result = failed
        finally:
            stack.stop_all()
            if stack.app is not None:
                stack.app.close()
        result.redis_url = url
        result.pids = {child.name: child.pid for child in stack.children}
    stack.log(f"stopped: {result.message}")
    return result
