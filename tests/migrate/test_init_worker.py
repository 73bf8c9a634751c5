"""After ``queue2celery init``, the app runs on a real worker with no glue written by hand:
the one-line ``adopt`` change where each queue is built, then one task per mapped kind,
end to end on the embedded server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _init_apps import make_app

from queue2celery.cli import main

pytestmark = pytest.mark.worker

_CLIENT_PRELUDE = """
import json, sys, time
from queue2celery.celery_tasks import celery_status

def wait(app, task_id, timeout=45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = celery_status(app, task_id)
        if state["status"] in ("SUCCESS", "FAILURE"):
            return state
        time.sleep(0.1)
    raise SystemExit(f"task {task_id} did not finish in {timeout}s: {state}")
"""


def _urls(root: Path, url: str) -> dict[str, str]:
    return {
        "PYTHONPATH": str(root),
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
    }


def _run_client(root: Path, url: str, body: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _CLIENT_PRELUDE + textwrap.dedent(body)],
        cwd=root,
        env={**os.environ, **_urls(root, url), "Q2C_ROLLOUT": "celery"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _init_and_start(
    name: str,
    tmp_path: Path,
    url: str,
    worker_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
    edits: dict[str, tuple[str, str]],
) -> Path:
    root = make_app(name, tmp_path)
    assert main(["init", str(root), "-j", "1"]) == 0, capsys.readouterr().out
    # The one line the user changes where each queue is built (the tasks module says which).
    for rel, (old, new) in edits.items():
        path = root / rel
        text = path.read_text(encoding="utf-8")
        assert old in text, (rel, old)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    package = next(p.parent.name for p in root.glob("*/celery_tasks.py"))
    worker_factory(
        f"{package}.celery_tasks:celery_app",
        cwd=root,
        env=_urls(root, url),
    )
    return root


def test_plain_queue_app_runs_its_handlers_and_functions_on_a_worker(
    tmp_path: Path,
    embedded_url: str,
    worker_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _init_and_start(
        "plain",
        tmp_path,
        embedded_url,
        worker_factory,
        capsys,
        {
            "shop/tasks/queue.py": (
                "task_queue = queue.Queue()",
                "from shop.celery_tasks import adopt_task_queue\n\n"
                "task_queue = adopt_task_queue(queue.Queue())",
            )
        },
    )
    out = _run_client(
        root,
        embedded_url,
        """
        from shop.tasks.queue import task_queue
        from shop.celery_tasks import celery_app, dispatch_task_queue, notify_admin
        handle = task_queue.put({"type": "make_thumbnail", "payload": {"path": "a.png"}})
        put = wait(celery_app, handle.id)
        direct = wait(celery_app, dispatch_task_queue.delay(
            {"type": "make_thumbnail", "payload": {"path": "b.png"}}).id)
        admin = wait(celery_app, notify_admin.delay("新订单", urgent=True).id)
        print(json.dumps({"backend": handle.backend, "put": put, "direct": direct,
                          "admin": admin}))
        """,
    )
    assert out["backend"] == "celery"
    assert (out["put"]["status"], out["put"]["result"]) == ("SUCCESS", "a.png.thumb")
    assert (out["direct"]["status"], out["direct"]["result"]) == ("SUCCESS", "b.png.thumb")
    assert out["admin"]["status"] == "SUCCESS", out["admin"]
    # doctor on the app init wrote, with its worker running: nothing fails.
    doctor = subprocess.run(
        [sys.executable, "-m", "queue2celery.cli", "doctor", "-A", "shop.celery_tasks:celery_app"],
        cwd=root,
        env={**os.environ, **_urls(root, embedded_url)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    # parity on the adopted queue, with the workload a user writes (no other glue).
    (root / "parity_workload.py").write_text(
        "from shop.tasks.queue import task_queue\n\n\n"
        "def workload(q):\n"
        "    q.put({'type': 'make_thumbnail', 'payload': {'path': 'a.png'}})\n"
        "    q.put({'type': 'send_order_email', 'payload': {'order_id': 7, 'to': 'a@b.c'}})\n",
        encoding="utf-8",
    )
    parity = subprocess.run(
        [sys.executable, "-m", "queue2celery.cli", "parity", "parity_workload.py", "--json"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "REDIS_URL": ""},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert parity.returncode == 0, parity.stdout[-2000:] + parity.stderr[-2000:]
    assert json.loads(parity.stdout)["ok"] is True


def test_manager_app_runs_its_async_bound_handlers_with_the_dataclass_payload(
    tmp_path: Path,
    embedded_url: str,
    worker_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _init_and_start(
        "manager",
        tmp_path,
        embedded_url,
        worker_factory,
        capsys,
        {
            "notes/core/task_manager.py": (
                "        self.queue: PriorityQueue = PriorityQueue()",
                "        from notes.celery_tasks import adopt_task_manager\n\n"
                "        self.queue = adopt_task_manager(PriorityQueue(), self)",
            )
        },
    )
    out = _run_client(
        root,
        embedded_url,
        """
        from notes.core.task_manager import Task, task_manager
        from notes.celery_tasks import celery_app
        handle = task_manager.queue.put((1, 0, Task("summarize", {"note_id": 7}, "t-7")))
        print(json.dumps({"backend": handle.backend, "put": wait(celery_app, handle.id)}))
        """,
    )
    assert out["backend"] == "celery"
    assert out["put"]["status"] == "SUCCESS", out["put"]
    assert out["put"]["result"] == {"note_id": 7, "summary": "摘要 t-7"}


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("reuse", "from blog.celery_tasks import celery_app, rebuild_cache as t\nargs = ('home',)"),
        ("cycle", "from crm.celery_tasks import celery_app, build_report as t\nargs = ('11',)"),
    ],
)
def test_generated_function_tasks_run_on_a_worker(
    name: str,
    call: str,
    tmp_path: Path,
    embedded_url: str,
    worker_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = _init_and_start(name, tmp_path, embedded_url, worker_factory, capsys, {})
    out = _run_client(
        root,
        embedded_url,
        call + "\nprint(json.dumps(wait(celery_app, t.delay(*args).id)))\n",
    )
    assert out["status"] == "SUCCESS", out
