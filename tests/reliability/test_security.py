"""Issue 8.6: pickle refused, no Redis password anywhere, no traceback over HTTP, and
``rewrite`` never writes outside PATH."""

from __future__ import annotations

import importlib
import logging
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _reliability import report
from fastapi import FastAPI
from fastapi.testclient import TestClient

from queue2celery import embedded_redis
from queue2celery.celery_tasks import WorkerProcess, make_router, start_worker
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.errors import BrokerUnavailable

pytestmark = pytest.mark.reliability

SECRET = "s3cret"
REPO = Path(__file__).resolve().parents[2]
TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "', '.py", line ')

APP_MODULE = """
from queue2celery.celery_tasks import make_celery_app, register_handlers
from queue2celery.legacy_queue import TaskQueue

NAME = {name!r}
URL = {url!r}

# A failover list is a broker form; a result backend takes one URL.
app = make_celery_app(
    NAME, broker_url=URL, result_backend=URL.split(";")[0], task_default_queue=NAME
)
task_queue = TaskQueue(workers=1, route=lambda item: item["h"])


@task_queue.handler(NAME + ".ok")
def ok(item):
    return item["v"]


@task_queue.handler(NAME + ".boom")
def boom(item):
    raise ValueError("boom " + str(item["v"]))


tasks = register_handlers(app, task_queue)
"""


def _import_app(directory: Path, module_name: str, source: str) -> ModuleType:
    (directory / f"{module_name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(module_name)
    finally:
        sys.path.remove(str(directory))


@dataclass
class _Stack:
    name: str
    module: ModuleType
    worker: WorkerProcess


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Stack]:
    """An app with an ``ok`` and a ``boom`` handler, and a real worker, on an embedded server."""
    directory = tmp_path_factory.mktemp("security")
    name = "q2c-reliability-security"
    module_name = "q2c_reliability_security_app"
    with embedded_redis() as url:
        module = _import_app(directory, module_name, APP_MODULE.format(name=name, url=url))
        worker = start_worker(
            f"{module_name}:app", cwd=directory, queues=[name], log_path=directory / "w.log"
        )
        try:
            worker.wait_ready(60)
            yield _Stack(name, module, worker)
        finally:
            worker.stop()
            module.app.close()
            sys.modules.pop(module_name, None)


# --- pickle ---------------------------------------------------------------------------


class _OpensAFile:
    """Unpickling this calls ``open(path, "w")``: the file appearing means code ran."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


@pytest.mark.worker
def test_a_pickled_message_is_refused_by_the_worker_and_never_runs(
    stack: _Stack, tmp_path: Path, wait_until: Callable[..., Any]
) -> None:
    marker = tmp_path / "pickle-ran"
    ok = stack.module.tasks[f"{stack.name}.ok"]
    # The producer may use any serializer; the worker accepts JSON only (accept_content).
    evil = ok.apply_async(args=[_OpensAFile(str(marker))], serializer="pickle")
    # FIFO on one queue: once this JSON task is done, the pickled one was handled before it.
    after = ok.apply_async(args=[{"h": f"{stack.name}.ok", "v": "after"}])
    assert after.get(timeout=30) == "after"
    wait_until(
        lambda: "untrusted content" in stack.worker.log(), 10, what="the worker's refusal log"
    )
    log = stack.worker.log()
    refusal = next(line for line in log.splitlines() if "untrusted content" in line)
    assert "pickle" in refusal
    assert not marker.exists(), "the pickled payload was deserialized: code ran"
    assert evil.state == "PENDING", "the refused message must not have run"
    report({"test": "pickle_refused", "worker_log_line": refusal.strip()[:200]})


# --- status API -------------------------------------------------------------------------


def _no_traceback(text: str) -> None:
    for mark in TRACEBACK_MARKS:
        assert mark not in text, f"{mark!r} in the response: {text[:500]}"


@pytest.mark.worker
def test_the_status_api_reports_failures_without_a_traceback(
    stack: _Stack, wait_until: Callable[..., Any]
) -> None:
    api = FastAPI()
    api.include_router(make_router(stack.module.app))
    http = TestClient(api, raise_server_exceptions=False)
    boom = f"{stack.name}.boom"
    sent = http.post(f"/tasks/{boom}", json={"h": boom, "v": 7})
    assert sent.status_code == 202, sent.text
    task_id = sent.json()["task_id"]

    def failed() -> bool:
        return bool(http.get(f"/tasks/{task_id}").json().get("status") == "FAILURE")

    wait_until(failed, 30, what="the boom task to fail")
    response = http.get(f"/tasks/{task_id}")
    assert response.json()["error"] == {"type": "ValueError", "message": "boom 7"}
    bodies = {"failure": response}
    bodies["unknown id"] = http.get("/tasks/00000000-0000-4000-8000-000000000000")
    bodies["odd id"] = http.get("/tasks/..%2F..%2Fetc%2Fpasswd")
    bodies["unknown task"] = http.post("/tasks/no.such.task", json={})
    bodies["bad json"] = http.post(
        f"/tasks/{boom}", content=b"{not json", headers={"content-type": "application/json"}
    )
    for label, r in bodies.items():
        _no_traceback(r.text)
        assert r.status_code < 500 or label == "failure", (label, r.status_code, r.text)
    report(
        {"test": "status_api_no_traceback", "codes": {k: r.status_code for k, r in bodies.items()}}
    )


def test_the_status_api_on_a_dead_redis_says_503_without_traceback_or_password(
    free_port_url: str,
) -> None:
    from queue2celery.celery_tasks import make_celery_app

    # A failover list is a broker form; a result backend takes one URL.
    app = make_celery_app(
        "q2c-reliability-dead",
        broker_url=free_port_url,
        result_backend=free_port_url.split(";")[0],
    )
    try:
        api = FastAPI()
        api.include_router(make_router(app))
        http = TestClient(api, raise_server_exceptions=False)
        responses = [
            http.get("/tasks/00000000-0000-4000-8000-000000000000"),
            http.post("/tasks/celery.backend_cleanup", json=None),
        ]
    finally:
        app.close()
    for r in responses:
        _no_traceback(r.text)
        assert SECRET not in r.text, r.text
    assert responses[0].status_code == 503, responses[0].text


# --- passwords ---------------------------------------------------------------------------


@pytest.fixture(params=["userinfo", "query", "failover"])
def free_port_url(request: pytest.FixtureRequest, free_port: int) -> str:
    """A Redis URL with a password, on a port nothing listens on, in each form kombu takes."""
    if request.param == "query":
        return f"redis://127.0.0.1:{free_port}/0?password={SECRET}"
    if request.param == "failover":
        # Both hosts on the one closed port: kombu tries each in turn, neither answers.
        return (
            f"redis://:{SECRET}@127.0.0.1:{free_port}/0;"
            f"redis://:{SECRET}-2@localhost:{free_port}/0"
        )
    return f"redis://:{SECRET}@127.0.0.1:{free_port}/0"


WORKLOAD = """
from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue(workers=1)


@task_queue.handler
def noop(item):
    return item


def workload(q):
    q.put(1)
"""


def _commands(directory: Path, url: str) -> dict[str, list[str]]:
    spool = directory / "spool.sqlite3"
    return {
        "doctor": ["doctor", "-A", "q2c_secret_app:app", "--timeout", "1"],
        "doctor --json": ["doctor", "-A", "q2c_secret_app:app", "--timeout", "1", "--json"],
        "parity --redis-url": ["parity", str(directory / "workload.py"), "--redis-url", url],
        "rollout show --redis-url": ["rollout", "show", "--redis-url", url],
        "rollout show (env)": ["rollout", "show"],
        "rollout set": ["rollout", "set", "some.task", "50", "--redis-url", url],
        "rollout clear": ["rollout", "clear", "--redis-url", url],
        "spool replay --redis-url": ["spool", "replay", "--path", str(spool), "--redis-url", url],
        "spool replay (env)": ["spool", "replay", "--path", str(spool)],
    }


def _spool_one_task(directory: Path, app_module: ModuleType) -> None:
    """A spool file holding one task, made the way production makes it: a put in an outage."""
    cq = CompatQueue(
        app_module.task_queue,
        app_module.app,
        rollout=Rollout.all_celery(),
        on_broker_error="spool",
        spool_path=directory / "spool.sqlite3",
        namespace="q2c-secret",
    )
    try:
        handle = cq.put({"h": "q2c-secret.ok", "v": 1})
        assert getattr(handle, "spooled", True)
    finally:
        cq.close()
    assert cq.spool is not None and cq.spool.count() == 1


def test_no_command_output_log_or_error_shows_the_redis_password(
    tmp_path: Path, free_port_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = free_port_url
    source = APP_MODULE.format(name="q2c-secret", url=url)
    module = _import_app(tmp_path, "q2c_secret_app", source)
    (tmp_path / "workload.py").write_text(textwrap.dedent(WORKLOAD), encoding="utf-8")
    seen: dict[str, str] = {}
    try:
        with caplog.at_level(logging.DEBUG):
            # In process: every on_broker_error policy, its exception chain and its logs.
            for policy in ("raise", "legacy", "spool"):
                cq = CompatQueue(
                    module.task_queue,
                    module.app,
                    rollout=Rollout.all_celery(),
                    on_broker_error=policy,
                    spool_path=tmp_path / f"spool-{policy}.sqlite3",
                    namespace="q2c-secret",
                )
                try:
                    cq.put({"h": "q2c-secret.ok", "v": 1})
                    cq.put({"h": "q2c-secret.ok", "v": 2})  # the breaker is open now
                except BrokerUnavailable as exc:
                    chain: list[str] = []
                    e: BaseException | None = exc
                    while e is not None:
                        chain += [str(e), repr(e)]
                        e = e.__cause__ or e.__context__
                    seen[f"CompatQueue {policy}: BrokerUnavailable"] = "\n".join(chain)
                finally:
                    cq.close()
            module.task_queue.stop()
            if ";" not in url:  # a spool needs a single Redis URL to replay to
                _spool_one_task(tmp_path, module)
        seen["logs (caplog, DEBUG)"] = caplog.text
        assert "BrokerUnavailable" in " ".join(seen), "the raise policy must raise"

        # Out of process, as users run them: the URL also in the environment.
        env = {
            "REDIS_URL": url,
            "CELERY_BROKER_URL": url,
            "CELERY_RESULT_BACKEND": url.split(";")[0],
            "PYTHONPATH": f"{tmp_path}:{REPO}",
        }
        worker_started = time.monotonic()
        worker = _start_worker_cli(tmp_path, env)
        try:
            procs = {
                label: _run_cli(argv, tmp_path, env)
                for label, argv in _commands(tmp_path, url).items()
            }
            for label, proc in procs.items():
                out, _ = proc.communicate(timeout=90)
                seen[f"{label} (exit {proc.returncode})"] = out
        finally:
            seen["worker (its first 6 s)"] = _stop_after(worker, worker_started, 6.0)
    finally:
        module.app.close()
        sys.modules.pop("q2c_secret_app", None)

    leaks = [label for label, text in seen.items() if SECRET in text]
    assert not leaks, "\n\n".join(f"--- {label}:\n{seen[label]}" for label in leaks)
    # The checks must have seen the failures they are about (not passed on empty output).
    assert all(text.strip() for text in seen.values()), [k for k, v in seen.items() if not v]
    assert "127.0.0.1" in seen["logs (caplog, DEBUG)"]
    report({"test": "no_password", "outputs_checked": sorted(seen)})


def _run_cli(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "queue2celery.cli", *argv],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _start_worker_cli(cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """``queue2celery worker`` on the dead URL (its connection retries log the broker URL)."""
    import os

    return subprocess.Popen(
        [sys.executable, "-m", "queue2celery.cli", "worker", "-A", "q2c_secret_app:app"]
        + ["-P", "solo", "--loglevel=DEBUG", "--without-mingle", "--without-gossip"],
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _stop_after(proc: subprocess.Popen[str], started: float, seconds: float) -> str:
    import os
    import signal

    time.sleep(max(0.0, started + seconds - time.monotonic()))
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    out, _ = proc.communicate(timeout=30)
    return out


# --- rewrite stays inside PATH -------------------------------------------------------------


def test_rewrite_never_writes_outside_path_through_links(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from queue2celery.cli import main

    tree = tmp_path / "tree"
    shutil.copytree(
        REPO / "queue2celery" / "examples" / "legacy_app",
        tree,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    routes = tree / "fastapi_app" / "routes"
    original = (routes / "videos.py").read_bytes()
    outside = tmp_path / "outside"
    (outside / "pkg").mkdir(parents=True)
    victims = [outside / "victim.py", outside / "pkg" / "videos.py", outside / "hard.py"]
    for victim in victims:
        victim.write_bytes(original)
    (routes / "linked_videos.py").symlink_to(outside / "victim.py")
    (routes / "linked_pkg").symlink_to(outside / "pkg", target_is_directory=True)
    (routes / "hard_videos.py").hardlink_to(outside / "hard.py")

    code = main(["rewrite", str(tree)])
    out = capsys.readouterr().out

    assert code == 0, out
    assert (routes / "videos.py").read_bytes() != original, "the in-tree file is rewritten"
    for victim in victims:
        assert victim.read_bytes() == original, f"{victim} was written through a link"
    assert (routes / "linked_videos.py").is_symlink() and (routes / "linked_pkg").is_symlink()
    report({"test": "rewrite_inside_path", "rewrite_output": out.strip().splitlines()[-1]})
