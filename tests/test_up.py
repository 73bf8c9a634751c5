"""queue2celery up, end to end: a small FastAPI + Celery project of our own, run by the real
command in a subprocess; the API answers, a task sent from it runs, beat ticks, and stopping
leaves no process behind."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.worker]

TASKS = '''
"""订单服务的 Celery 任务 (worker 与 beat 共用)."""

import os

import redis

from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks.periodic import periodic_task

PREFIX = os.environ["SHOP_PREFIX"]

app = make_celery_app("shop", broker_transport_options={"global_keyprefix": PREFIX})
app.conf.beat_schedule = {
    "heartbeat": {"task": "shop.heartbeat", "schedule": 1.0},
}


def _redis():
    return redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=5)


@app.task(name="shop.total")
def order_total(items):
    # 计算订单总价
    return sum(item["price"] * item["qty"] for item in items)


@periodic_task(app, name="shop.heartbeat", lock_ttl=5)
def heartbeat():
    _redis().incr(PREFIX + "ticks")
'''

API = '''
"""订单 API."""

from celery.result import AsyncResult
from fastapi import FastAPI

from shop_tasks import PREFIX, _redis, app as celery_app, order_total

api = FastAPI()


@api.post("/orders")
def create_order(order: dict):
    return {"task_id": order_total.delay(order["items"]).id}


@api.get("/orders/{task_id}")
def order_status(task_id: str):
    result = AsyncResult(task_id, app=celery_app)
    return {"status": result.status, "result": result.result if result.ready() else None}


@api.get("/ticks")
def ticks():
    return {"ticks": int(_redis().get(PREFIX + "ticks") or 0)}
'''


class UpRun:
    """A running ``queue2celery up`` and the lines it printed so far."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str]) -> None:
        self.popen = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for raw in iter(self.popen.stdout.readline, b""):
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines)

    def pids(self) -> dict[str, int]:
        found = re.findall(r"^up +\| (\S+) started \(pid (\d+)\)", self.text(), re.M)
        return {name: int(pid) for name, pid in found}

    def wait(self, timeout: float) -> int:
        code = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=5)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        # The children are in their own process groups: make sure none outlives the test.
        for pid in self.pids().values():
            _kill_group(pid)


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    (tmp_path / "shop_tasks.py").write_text(textwrap.dedent(TASKS), encoding="utf-8")
    (tmp_path / "shop_api.py").write_text(textwrap.dedent(API), encoding="utf-8")
    return tmp_path


@pytest.fixture
def start_up(shop: Path) -> Iterator[Callable[..., UpRun]]:
    runs: list[UpRun] = []

    def _start(*args: str, env: dict[str, str] | None = None) -> UpRun:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS", "CELERY"))}
        full_env["SHOP_PREFIX"] = f"q2ctest-up-{uuid.uuid4().hex[:8]}:"
        full_env["PYTHONUNBUFFERED"] = "1"
        full_env.update(env or {})
        argv = [sys.executable, "-m", "queue2celery.cli", "up", "-A", "shop_tasks:app", *args]
        run = UpRun(argv, shop, full_env)
        runs.append(run)
        return run

    yield _start
    for run in runs:
        run.kill()


def _http(method: str, url: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("backend", ["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def test_up_runs_the_stack_in_order_and_stops_it_leaving_nothing_behind(
    backend: str,
    request: pytest.FixtureRequest,
    start_up: Callable[..., UpRun],
    free_port: int,
    wait_until: Callable[..., Any],
) -> None:
    url = "embedded" if backend == "embedded" else request.getfixturevalue("real_redis")
    run = start_up("--api", "shop_api:api", "--port", str(free_port), "--redis-url", url)
    assert wait_until(lambda: "the stack is up" in run.text(), timeout=90), run.text()[-3000:]
    text = run.text()
    # Each part started only once the one before it was ready.
    order = [
        text.index("answers PING"),
        text.index("worker ready (answers a control ping)"),
        text.index("beat started"),
        text.index("beat ready (holds the scheduler lock)"),
        text.index("api started"),
        text.index("api ready (answers HTTP"),
    ]
    assert order == sorted(order)
    assert text.index("worker ready") < text.index("beat started")

    base = f"http://127.0.0.1:{free_port}"
    items = [{"price": 12.5, "qty": 2}, {"price": 3, "qty": 1}]
    task_id = _http("POST", f"{base}/orders", {"items": items})["task_id"]
    done = wait_until(
        lambda: _http("GET", f"{base}/orders/{task_id}")["status"] == "SUCCESS", timeout=30
    )
    assert done
    assert _http("GET", f"{base}/orders/{task_id}")["result"] == 28.0
    # Beat's ticks reach the worker.
    assert wait_until(lambda: _http("GET", f"{base}/ticks")["ticks"] >= 2, timeout=20)

    pids = run.pids()
    assert set(pids) == {"worker", "beat", "api"}
    os.kill(run.popen.pid, signal.SIGTERM)
    started = time.monotonic()
    assert run.wait(timeout=60) == 0, run.text()[-3000:]
    assert time.monotonic() - started < 40
    stops = [run.text().index(f"stopping {name}") for name in ("api", "beat", "worker")]
    assert stops == sorted(stops), "not stopped in reverse order"
    for name, pid in pids.items():
        assert wait_until(lambda p=pid: _group_gone(p), timeout=5), f"{name} left behind"


def test_a_child_that_dies_stops_the_stack_with_its_code(
    start_up: Callable[..., UpRun], wait_until: Callable[..., Any]
) -> None:
    run = start_up("--redis-url", "embedded")
    assert wait_until(lambda: "the stack is up" in run.text(), timeout=90), run.text()[-3000:]
    pids = run.pids()
    os.kill(pids["worker"], signal.SIGKILL)
    assert run.wait(timeout=60) == 128 + signal.SIGKILL
    assert "worker exited with code -9" in run.text()
    assert "stopping beat" in run.text()
    for pid in pids.values():
        assert wait_until(lambda p=pid: _group_gone(p), timeout=5)


def test_an_api_that_cannot_start_fails_the_stack_by_name(
    start_up: Callable[..., UpRun], shop: Path, free_port: int, wait_until: Callable[..., Any]
) -> None:
    (shop / "broken_api.py").write_text("import no_such_module_q2c\n", encoding="utf-8")
    run = start_up(
        "--redis-url", "embedded", "--no-beat", "--api", "broken_api:api", "--port", str(free_port)
    )
    code = run.wait(timeout=90)
    assert code != 0
    assert "api exited with code" in run.text() and "before it was ready" in run.text()
    assert "beat started" not in run.text()
    for pid in run.pids().values():
        assert wait_until(lambda p=pid: _group_gone(p), timeout=5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--api", "shop_api"], "--api needs MODULE:APP"),
        (["--redis-url", "redis://127.0.0.1:1/0"], "does not answer PING"),
        (["--lock-timeout", "1"], "at least twice the loop interval"),
    ],
)
def test_bad_options_fail_in_one_line_before_anything_starts(
    start_up: Callable[..., UpRun], args: list[str], message: str
) -> None:
    run = start_up(*args)
    assert run.wait(timeout=30) == 1
    assert message in run.text()
    assert "Traceback" not in run.text()
    assert run.pids() == {}


@pytest.mark.redis
def test_beat_waits_out_a_lock_left_by_a_killed_run_and_says_so(
    start_up: Callable[..., UpRun], real_redis: str, wait_until: Callable[..., Any]
) -> None:
    import redis

    prefix = f"q2ctest-up-{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(real_redis, socket_timeout=5)
    lock = f"{prefix}redbeat::lock"
    client.set(lock, "token-of-a-killed-beat", px=15000)
    try:
        run = start_up("--redis-url", real_redis, env={"SHOP_PREFIX": prefix})
        assert wait_until(lambda: "the stack is up" in run.text(), timeout=60), run.text()[-3000:]
        text = run.text()
        assert "beat waits for the scheduler lock" in text
        assert text.index("beat waits for") < text.index("beat ready")
        os.kill(run.popen.pid, signal.SIGTERM)
        assert run.wait(timeout=60) == 0
    finally:
        client.delete(lock)
        client.close()


def test_a_busy_api_port_fails_before_anything_starts(
    start_up: Callable[..., UpRun], free_port: int
) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free_port))
        busy.listen()
        run = start_up("--redis-url", "embedded", "--api", "shop_api:api", "--port", str(free_port))
        assert run.wait(timeout=30) == 1
    assert f"port {free_port} on 127.0.0.1 is in use" in run.text()
    assert run.pids() == {}


def test_ctrl_c_stops_the_stack_too(
    start_up: Callable[..., UpRun], wait_until: Callable[..., Any]
) -> None:
    run = start_up("--redis-url", "embedded", "--no-beat", "--workers", "2")
    assert wait_until(lambda: "the stack is up" in run.text(), timeout=90), run.text()[-3000:]
    pids = run.pids()
    assert set(pids) == {"worker1", "worker2"}
    assert "worker2 ready (answers a control ping)" in run.text()
    os.kill(run.popen.pid, signal.SIGINT)
    assert run.wait(timeout=40) == 0
    stops = [run.text().index(f"stopping {name}") for name in ("worker2", "worker1")]
    assert stops == sorted(stops)
    for pid in pids.values():
        assert wait_until(lambda p=pid: _group_gone(p), timeout=5)


def test_a_child_that_ignores_sigterm_is_killed_after_the_bound() -> None:
    from queue2celery._up_children import Child, LogStream

    lines: list[str] = []
    code = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('stubborn', flush=True); time.sleep(60)"
    )
    child = Child(
        "stubborn",
        [sys.executable, "-c", code],
        env=dict(os.environ),
        cwd=None,
        stream=LogStream(lines.append),
    )
    deadline = time.monotonic() + 20
    while not child.saw("stubborn") and time.monotonic() < deadline:
        time.sleep(0.05)
    started = time.monotonic()
    child.stop(timeout=1.0)
    assert time.monotonic() - started < 5
    assert child.returncode() == -signal.SIGKILL
    assert _group_gone(child.pid)
    assert any("did not stop within 1s: killed" in line for line in lines)


def test_log_lines_carry_the_process_name_and_colour_only_when_asked() -> None:
    from queue2celery._up_children import LogStream

    plain: list[str] = []
    stream = LogStream(plain.append)
    stream.register("worker2")
    stream.line("api", "GET / 200")
    assert plain == ["api     | GET / 200"]
    coloured: list[str] = []
    LogStream(coloured.append, color=True).line("api", "x")
    assert coloured == ["\x1b[36mapi    |\x1b[0m x"]
