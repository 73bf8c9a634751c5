"""Issue 16's path on each realistic app, with nothing written by hand but the one line that
adopts a queue: scan -> init -> a real worker -> the compat queue at 100% -> parity -> rewrite
-> check -> the rewritten route's tasks run on the same worker with the right arguments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _init_apps import make_app

from queue2celery.cli import main

pytestmark = pytest.mark.worker

# Sends are recorded from both sides of the switch: the compat queue's put (its handle says
# which backend ran it) and Celery's apply_async (with the priority it was given). The route
# is called over HTTP (FastAPI's TestClient) when it is one.
_CLIENT = """
import json, time
import celery.app.task as task_module
from celery.result import AsyncResult
from queue2celery.celery_tasks import celery_status
from queue2celery.compat import CompatQueue

sent = {}
original_apply = task_module.Task.apply_async

def apply_spy(self, args=None, kwargs=None, **options):
    result = original_apply(self, args, kwargs, **options)
    sent.setdefault(result.id, {"task": self.name, "priority": options.get("priority")})
    return result

original_put = CompatQueue.put

def put_spy(self, *args, **kwargs):
    handle = original_put(self, *args, **kwargs)
    sent[handle.id] = {"task": "compat", "backend": handle.backend}
    return handle

task_module.Task.apply_async = apply_spy
CompatQueue.put = put_spy

def http(router, method, url):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    api = FastAPI()
    api.include_router(router)
    with TestClient(api) as client:
        response = client.request(method, url)
    assert response.status_code == 200, response.text
    return response.json()

{call}

deadline = time.monotonic() + 45
out = {}
for task_id, info in sent.items():
    while True:
        state = celery_status(celery_app, task_id)
        if state["status"] in ("SUCCESS", "FAILURE") or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    stored = AsyncResult(task_id, app=celery_app)
    out[task_id] = {**info, "status": state["status"], "result": state["result"],
                    "error": state["error"], "args": repr(stored.args)}
print(json.dumps({"response": response, "sent": list(out.values())}, ensure_ascii=False))
"""


@dataclass(frozen=True)
class App:
    package: str
    kinds: set[str]  # what scan finds
    call: str  # client code: sets `response` (and imports `celery_app`)
    adopt: dict[str, tuple[str, str]] = field(default_factory=dict)  # the one-line change
    workload: str | None = None  # a parity workload, when the app has a queue to compare


APPS = {
    "plain": App(
        "shop",
        {"queue_put", "background_task"},
        "from shop.celery_tasks import celery_app\n"
        "from shop.routes.orders import router\n"
        "response = http(router, 'POST', '/orders/5')",
        adopt={
            "shop/tasks/queue.py": (
                "task_queue = queue.Queue()",
                "from shop.celery_tasks import adopt_task_queue\n\n"
                "task_queue = adopt_task_queue(queue.Queue())",
            )
        },
        workload=(
            "from shop.tasks.queue import task_queue\n\n\n"
            "def workload(q):\n"
            "    q.put({'type': 'make_thumbnail', 'payload': {'path': 'a.png'}})\n"
            "    q.put({'type': 'send_order_email', 'payload': {'order_id': 7, 'to': 'a@b.c'}})\n"
        ),
    ),
    "manager": App(
        "notes",
        {"queue_put", "manager_add_task"},
        "from notes.celery_tasks import celery_app\n"
        "from notes.api.notes import router\n"
        "response = http(router, 'POST', '/notes/7/summary')",
        adopt={
            "notes/core/task_manager.py": (
                "        self.queue: PriorityQueue = PriorityQueue()",
                "        from notes.celery_tasks import adopt_task_manager\n\n"
                "        self.queue = adopt_task_manager(PriorityQueue(), self)",
            )
        },
        workload=(
            "from notes.core.task_manager import Task, task_manager\n\n"
            "task_queue = task_manager.queue\n\n\n"
            "def workload(q):\n"
            "    q.put((1, 0, Task('summarize', {'note_id': 7}, 't-7')))\n"
        ),
    ),
    "reuse": App(
        "blog",
        {"background_task"},
        "from blog.celery_tasks import celery_app\n"
        "from blog.api.admin import router\n"
        "response = http(router, 'POST', '/admin/purge')",
    ),
    "cycle": App(
        "crm",
        {"background_task"},
        "import inspect\n"
        "from crm.celery_tasks import celery_app\n"
        "from crm.api.deps import schedule_report\n"
        "# not a route: called as its callers do (its BackgroundTasks parameter may be gone)\n"
        "args = (None, '11') if 'background_tasks' in inspect.signature(schedule_report)"
        ".parameters else ('11',)\n"
        "response = schedule_report(*args)",
    ),
}


def _env(root: Path, url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(root),
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
    }


def _client(root: Path, url: str, call: str, rollout: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT.replace("{call}", call)],
        cwd=root,
        env={**_env(root, url), "Q2C_ROLLOUT": rollout},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([*argv, "-j", "1"])
    return code, capsys.readouterr().out


def _adopt(root: Path, edits: dict[str, tuple[str, str]]) -> None:
    """The one line the user changes where each queue is built (the tasks module says which)."""
    for rel, (old, new) in edits.items():
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _parity(root: Path, workload: str) -> dict[str, Any]:
    (root / "parity_workload.py").write_text(workload, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "queue2celery.cli", "parity", "parity_workload.py", "--json"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=180,
    )
    (root / "parity_workload.py").unlink()
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.parametrize("name", list(APPS))
def test_scan_init_worker_compat_parity_rewrite_check_then_the_route_runs_on_the_worker(
    name: str,
    tmp_path: Path,
    embedded_url: str,
    worker_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    app = APPS[name]
    root = make_app(name, tmp_path)
    code, out = _cli(capsys, "scan", str(root), "--json")
    assert code == 0, out
    assert {s["kind"] for s in json.loads(out)["sites"]} == app.kinds
    code, out = _cli(capsys, "init", str(root))
    assert code == 0, out
    assert "not done" not in out, out
    _adopt(root, app.adopt)
    worker_factory(f"{app.package}.celery_tasks:celery_app", cwd=root, env=_env(root, embedded_url))

    if app.adopt:
        # The app's own queue behind the compat queue, at 100%: the route's puts run on Celery.
        before = _client(root, embedded_url, app.call, "100")
        compat = [s for s in before["sent"] if s["task"] == "compat"]
        assert compat and {s["backend"] for s in compat} == {"celery"}, before
        assert {s["status"] for s in before["sent"]} == {"SUCCESS"}, before
    if app.workload is not None:
        assert _parity(root, app.workload)["ok"] is True

    code, out = _cli(capsys, "check", str(root))
    assert code == 1, out  # the legacy sites are still there
    code, out = _cli(capsys, "rewrite", str(root))
    assert code == 0, out
    code, out = _cli(capsys, "check", str(root))
    assert code == 0, out
    if name == "plain":  # worker_loop's own re-queue: kept by rewrite, said, not failing
        lines = (root / "shop/tasks/queue.py").read_text(encoding="utf-8").splitlines()
        line = next(i for i, t in enumerate(lines, 1) if t.strip() == "task_queue.put(job)")
        assert f"shop/tasks/queue.py:{line}:17: Q2C001 warning: " in out, out
        assert "retire the loop" in out, out
    code, out = _cli(capsys, "rewrite", str(root))
    assert "0 file(s) changed" in out, out  # rewrite is done: a second run changes nothing

    after = _client(root, embedded_url, app.call, "100")
    # After rewrite nothing goes through the compat queue: every send is a Celery task.
    assert after["sent"] and all(s["task"] != "compat" for s in after["sent"]), after
    assert {s["status"] for s in after["sent"]} == {"SUCCESS"}, json.dumps(after)
    _check_arguments(name, after)


def _check_arguments(name: str, after: dict[str, Any]) -> None:
    by_task = {s["task"].rpartition(".")[2]: s for s in after["sent"]}
    if name == "plain":
        assert by_task["dispatch_task_queue"]["args"] == repr(
            [{"type": "send_order_email", "payload": {"order_id": 5, "to": "a@b.c"}}]
        )
        assert by_task["notify_admin"]["args"] == repr(["新订单 5"])
    elif name == "manager":
        sent = by_task["dispatch_task_manager"]
        # The async bound handler got a Task (it reads task.data and task.task_id), sent with
        # the priority the caller gave add_task.
        assert sent["priority"] == 1, sent
        assert sent["result"] == {"note_id": 7, "summary": f"摘要 {after['response']['task_id']}"}
        assert sent["args"].startswith("[Task(kind='summarize', data={'note_id': 7}"), sent
    elif name == "reuse":
        assert set(by_task) == {"purge_drafts", "rebuild_cache"}, by_task
    else:
        assert by_task["build_report"]["args"] == repr(["11"]), by_task
