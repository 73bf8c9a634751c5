"""The guide's steps on the example, as written: scan, the one-line adopt, parity, the fixes,
a real worker at 100%, rewrite, check and doctor.

The demo shows these results, so they are pinned here: the example must keep carrying its
hazards, and each step's state must still import and run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import queue2celery
from queue2celery.cli import main

EXAMPLE = Path(queue2celery.__file__).resolve().parent / "examples" / "legacy_app"
CELERY_APP = "fastapi_app.tasks.celery_app:celery_app"


def _q2c(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "queue2celery.cli", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _poll(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def test_scan_finds_the_sites_and_flags_the_tuple_and_the_int_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scan", str(EXAMPLE), "--json", "-j", "1"]) == 0
    sites = json.loads(capsys.readouterr().out)["sites"]
    kinds = {s["kind"] for s in sites}
    assert kinds == {"queue_put", "manager_add_task", "background_task"}
    risks = {(s["path"], r["code"]) for s in sites for r in s["risks"]}
    assert ("fastapi_app/routes/locations.py", "tuple-literal") in risks
    assert ("fastapi_app/routes/videos.py", "dict-non-str-key") in risks


@pytest.mark.worker
def test_parity_after_step_2_shows_the_hazards_and_after_the_fixes_is_clean(
    example_at: Callable[..., Path], embedded_url: str
) -> None:
    env = {"REDIS_URL": embedded_url}
    adopted = example_at("2_adopt")
    done = _q2c(
        "parity", "parity_workload.py", "--json", "--redis-url", embedded_url, cwd=adopted, env=env
    )
    assert done.returncode == 1, done.stderr
    found = {(m["task"], m["kind"]) for m in json.loads(done.stdout)["mismatches"]}
    assert ("geocode_location", "arg_drift") in found
    assert ("generate_thumbnails", "arg_drift") in found
    assert (None, "observed_state") in found
    manager = _q2c(
        "parity", "parity_manager.py", "--json", "--redis-url", embedded_url, cwd=adopted, env=env
    )
    assert manager.returncode == 1, manager.stderr
    kinds = {m["kind"] for m in json.loads(manager.stdout)["mismatches"]}
    # Task and ReportRequest arrive as themselves: only the status dict on the instance differs.
    assert kinds == {"observed_state"}

    fixed = example_at("2_adopt", "4_fix")
    for workload in ("parity_workload.py", "parity_manager.py"):
        clean = _q2c("parity", workload, "--redis-url", embedded_url, cwd=fixed, env=env)
        assert clean.returncode == 0, clean.stdout + clean.stderr


def test_at_rollout_legacy_the_adopted_app_runs_on_its_own_threads_as_before(
    example_at: Callable[..., Path], serve: Callable[..., httpx.Client], embedded_url: str
) -> None:
    api = serve(example_at("2_adopt"), REDIS_URL=embedded_url, Q2C_ROLLOUT="legacy")
    assert api.post("/videos/v-legacy/upload", json={"path": "/up/a.mov"}).status_code == 202
    body = _poll(lambda: api.get("/videos/v-legacy/status").json(), lambda b: "status" in b)
    body = _poll(lambda: api.get("/videos/v-legacy/status").json(), lambda b: b["status"] == "done")
    assert body["status"] == "done"
    task_id = api.post("/reports/export", json={"user_id": 1, "month": "2024-06"}).json()["task_id"]
    report = _poll(lambda: api.get(f"/reports/{task_id}").json(), lambda b: b["status"] == "done")
    assert report["result"]["file"] == "/exports/1-2024-06.csv"


@pytest.mark.worker
def test_at_100_percent_a_real_worker_runs_the_fixed_app_and_the_api_sees_it(
    example_at: Callable[..., Path],
    serve: Callable[..., httpx.Client],
    embedded_url: str,
    worker_factory: Callable[..., Any],
) -> None:
    app_dir = example_at("2_adopt", "4_fix")
    env = {"REDIS_URL": embedded_url, "Q2C_ROLLOUT": "celery"}
    worker_factory(CELERY_APP, cwd=app_dir, env=env, ready_timeout=60)
    api = serve(app_dir, **env)
    api.post("/videos/v-cel/upload", json={"path": "/up/c.mov"})
    body = _poll(
        lambda: api.get("/videos/v-cel/status"),
        lambda r: r.status_code == 200 and r.json()["status"] == "done",
    )
    assert body.json() == {"video_id": "v-cel", "status": "done", "progress": 100}
    # The manager's async bound method ran in the worker on a ReportRequest object.
    task_id = api.post("/reports/export", json={"user_id": 2, "month": "2024-07"}).json()["task_id"]
    report = _poll(lambda: api.get(f"/reports/{task_id}").json(), lambda b: b["status"] == "done")
    assert report["result"] == {
        "file": "/exports/2-2024-07.csv",
        "rows": 1,
        "columns": ["date", "amount"],
    }
    import fastapi_app.tasks.worker as worker  # type: ignore[import-not-found]

    assert worker.task_queue.qsize() == 0  # nothing stayed in process


def test_rewrite_after_the_fixes_imports_and_check_leaves_only_the_adopted_manager(
    example_at: Callable[..., Path],
) -> None:
    copy = example_at("2_adopt", "4_fix")
    assert main(["rewrite", str(copy), "-j", "1"]) == 0
    videos = (copy / "fastapi_app" / "routes" / "videos.py").read_text(encoding="utf-8")
    assert "process_task.delay(" in videos and "task_queue.put(" not in videos
    users = (copy / "fastapi_app" / "routes" / "users.py").read_text(encoding="utf-8")
    assert "send_email_task.delay(" in users
    imported = subprocess.run(
        [sys.executable, "-c", "import fastapi_app.main, fastapi_app.tasks.celery_tasks"],
        cwd=copy,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    left = _q2c("check", ".", "-j", "1", cwd=copy)
    assert left.returncode == 1
    assert [
        line.split(": ")[1].split()[0] for line in left.stdout.splitlines() if ": Q2C" in line
    ] == ["Q2C004"]  # the adopted manager's add_task, left on its CompatQueue


@pytest.mark.worker
def test_doctor_passes_on_the_adopted_example_with_its_worker(
    example_at: Callable[..., Path], embedded_url: str, worker_factory: Callable[..., Any]
) -> None:
    app_dir = example_at("2_adopt")
    env = {"REDIS_URL": embedded_url}
    worker_factory(CELERY_APP, cwd=app_dir, env=env, ready_timeout=60)
    done = _q2c("doctor", "-A", CELERY_APP, "--json", cwd=app_dir, env=env)
    report = json.loads(done.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert done.returncode == 0, done.stdout
    assert statuses["workers"] == statuses["registered"] == statuses["queues"] == "PASS"
    registered = next(c for c in report["checks"] if c["name"] == "registered")
    for task in (
        "process_task",
        "send_email",
        "process_video_upload",
        "geocode_location",
        "fastapi_app.tasks.manager.TaskManager.execute",
    ):
        assert task in registered["detail"]
