"""``doctor --task ID`` in a mixed run on a real worker: every id in exactly one state.

A private ``redis-server`` (a broadcast on the shared Redis would also reach other test runs'
workers), one solo worker, and tasks in every state at once: done, running, queued (at
positions 1 and 2 behind the running one), lost (sent, then its message gone, as when a
worker is killed between taking it and recording it), never sent, routed to a queue nobody
consumes, a task name no worker knows, and one kept in a spool.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from queue2celery.celery_tasks.status import mark_app_sent
from queue2celery.cli import main as cli_main
from queue2celery.compat import Spool
from queue2celery.compat._publisher import Prepared

pytestmark = [pytest.mark.worker, pytest.mark.redis]

APP = """
import time

import redis

from queue2celery.celery_tasks import make_celery_app

NAME = {name!r}
URL = {url!r}

app = make_celery_app(NAME, broker_url=URL, result_backend=URL, task_default_queue=NAME)
_redis = redis.Redis.from_url(URL, socket_timeout=5)


@app.task(name=NAME + ".hold", shared=False)
def hold(key):
    # 等待测试放行（最多 60 秒）
    deadline = time.monotonic() + 60
    while not _redis.exists(key) and time.monotonic() < deadline:
        time.sleep(0.05)
    return "released"


@app.task(name=NAME + ".quick", shared=False)
def quick(x):
    return x * 2
"""


def _doctor(spec: str, task_id: str, capsys: pytest.CaptureFixture[str], *extra: str) -> Any:
    code = cli_main(["doctor", "--task", task_id, "-A", spec, "--json", "--timeout", "1", *extra])
    out = capsys.readouterr()
    assert code in (0, 1), out.err
    location = json.loads(out.out)
    assert location["task_id"] == task_id
    return code, location


def test_doctor_task_names_the_state_of_every_id_in_a_mixed_run(
    redis_server_factory: Callable[[], Any],
    write_module: Callable[[str, str], Path],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = redis_server_factory()
    name = f"q2cdoc{uuid.uuid4().hex[:8]}"
    write_module(f"{name}_app", APP.format(name=name, url=server.url))
    spec = f"{name}_app:app"
    import importlib

    module = importlib.import_module(f"{name}_app")
    app = module.app
    client = redis.Redis.from_url(server.url, socket_timeout=5)
    # A threads pool answers broadcasts while its one thread runs a task (a busy solo pool
    # cannot, and then nobody can say which queues are consumed).
    worker = worker_factory(
        spec,
        cwd=tmp_path,
        queues=[name],
        pool="threads",
        concurrency=1,
        log_path=tmp_path / "w.log",
    )
    try:
        done = module.quick.delay(21)
        assert done.get(timeout=30) == 42
        running = module.hold.delay(f"{name}:release")
        deadline = time.monotonic() + 30
        while running.state != "STARTED" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert running.state == "STARTED", worker.log()[-2000:]
        first, second = module.quick.delay(1), module.quick.delay(2)
        unrouted = module.quick.apply_async(args=[3], queue=f"{name}-nobody")
        ghost = app.send_task(f"{name}.ghost", args=[1])
        lost = module.quick.apply_async(args=[4], queue=f"{name}-lost")
        mark_app_sent(app, lost.id)
        client.delete(f"{name}-lost")  # taken and never recorded: the kill window
        spool = Spool(tmp_path / "spool.sqlite3")
        spooled_id = str(uuid.uuid4())
        spool.add([Prepared(spooled_id, f"{name}.quick", name, "{}")])
        never = str(uuid.uuid4())

        expected = {
            done.id: ("done", 0),
            running.id: ("running", 0),
            first.id: ("queued", 0),
            second.id: ("queued", 0),
            unrouted.id: ("unrouted", 1),
            ghost.id: ("unregistered", 1),
            lost.id: ("lost", 1),
            spooled_id: ("spooled", 0),
            never: ("never_sent", 1),
        }
        seen: dict[str, Any] = {}
        for task_id, (state, code) in expected.items():
            got_code, location = _doctor(
                spec, task_id, capsys, "--spool", str(tmp_path / "spool.sqlite3")
            )
            seen[task_id] = location
            assert (location["state"], got_code) == (state, code), location
            assert location["detail"]
        assert seen[first.id]["evidence"]["position"] == 1
        assert seen[second.id]["evidence"]["position"] == 2
        assert seen[running.id]["evidence"]["worker"].startswith("q2c-")
        assert seen[done.id]["evidence"]["status"] == "SUCCESS"
        assert seen[unrouted.id]["evidence"]["queue"] == f"{name}-nobody"

        # The text form says the same in one line.
        assert cli_main(["doctor", "--task", first.id, "-A", spec, "--timeout", "1"]) == 0
        text = capsys.readouterr().out
        assert text.startswith("queued") and "position 1" in text
        client.set(f"{name}:release", 1)
        assert running.get(timeout=30) == "released"
        _, after = _doctor(spec, running.id, capsys)
        assert after["state"] == "done"
    finally:
        client.set(f"{name}:release", 1)
        worker.stop()
        client.close()
        app.close()


def test_states_read_from_the_marker_and_kombus_unacked_set(embedded_url: str) -> None:
    from celery.app.base import Celery

    from queue2celery.celery_tasks import make_celery_app
    from queue2celery.celery_tasks.locate import locate_task
    from queue2celery.celery_tasks.status import sent_key

    app: Celery = make_celery_app(
        "q2c-locate", broker_url=embedded_url, result_backend=embedded_url
    )
    app.conf.result_expires = 100
    client = redis.Redis.from_url(embedded_url)
    try:
        old, recent = str(uuid.uuid4()), str(uuid.uuid4())
        client.set(sent_key(old), int(time.time()) - 150, ex=200)
        client.set(sent_key(recent), int(time.time()) - 5, ex=200)
        retry, reserved = str(uuid.uuid4()), str(uuid.uuid4())
        for task_id, headers in (
            (retry, {"eta": "2030-01-01T00:00:00+00:00", "retries": 2}),
            (reserved, {"eta": None, "retries": 0}),
        ):
            message = {"headers": {"id": task_id, "task": "x.y", **headers}, "body": ""}
            tag = f"tag-{task_id}"
            client.hset("unacked", tag, json.dumps([message, "", "celery"]))
            client.zadd("unacked_index", {tag: time.time() - 30})
        states = {
            task_id: locate_task(app, task_id, ask_workers=False).state
            for task_id in (old, recent, retry, reserved, str(uuid.uuid4()))
        }
        assert list(states.values()) == [
            "result_expired",
            "lost",
            "retry_scheduled",
            "reserved",
            "never_sent",
        ]
        # Deep in a long queue, past what a read may scan: queued, never "lost".
        deep = str(uuid.uuid4())
        queue = str(app.conf.task_default_queue)
        for n in range(5):  # LPUSH: these are taken before the one pushed last
            client.lpush(queue, json.dumps({"headers": {"id": f"other-{n}", "task": "x.y"}}))
        client.lpush(queue, json.dumps({"headers": {"id": deep, "task": "x.y"}}))
        client.set(sent_key(deep), int(time.time()), ex=200)
        near = locate_task(app, deep, ask_workers=False, scan_limit=2)
        assert (near.state, near.evidence["position"], near.evidence["unread"]) == (
            "queued",
            None,
            4,
        )
        found = locate_task(app, deep, ask_workers=False)
        assert (found.state, found.evidence["position"]) == ("queued", 6)
    finally:
        client.close()
        app.close()


def test_doctor_task_on_a_dead_redis_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, free_port: int
) -> None:
    url = f"redis://:s3cret@127.0.0.1:{free_port}/0"
    for var in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.setenv(var, url)
    started = time.monotonic()
    code = cli_main(["doctor", "--task", str(uuid.uuid4()), "--timeout", "1"])
    out = capsys.readouterr()
    assert code == 1 and time.monotonic() - started < 15
    lines = [line for line in out.err.splitlines() if line.strip()]
    assert len(lines) == 1 and "did not answer" in lines[0], out.err
    assert "s3cret" not in out.err + out.out and "Traceback" not in out.err
    assert cli_main(["doctor"]) == 2  # neither -A nor --task: a usage error
    assert "needs -A" in capsys.readouterr().err
