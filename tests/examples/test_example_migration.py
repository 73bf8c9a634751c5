"""The toolkit on the example: what scan, parity, rewrite, check and doctor find there.

The demo shows these results, so they are pinned here: the example must keep carrying its
hazards, and its migrated form must still import and run on a worker.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from queue2celery.cli import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "legacy_app"

CELERY_APP = "fastapi_app.tasks.celery_tasks:celery_app"


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


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    target = tmp_path / "legacy_app"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def test_scan_finds_every_site_and_flags_the_tuple_and_the_int_keys(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["scan", str(EXAMPLE), "--json", "-j", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    sites = report["sites"]
    assert sorted(s["kind"] for s in sites) == [
        "background_task",
        "queue_put",
        "queue_put",
        "queue_put",
    ]
    risks = {(s["path"], r["code"]) for s in sites for r in s["risks"]}
    assert ("fastapi_app/routes/locations.py", "tuple-literal") in risks
    assert ("fastapi_app/routes/videos.py", "dict-non-str-key") in risks
    assert all(s["target"] for s in sites), "every site is mapped in the example's pyproject"


@pytest.mark.worker
def test_parity_shows_the_tuple_the_int_keys_and_the_status_dict() -> None:
    done = _q2c("parity", "parity_workload.py", "--json", cwd=EXAMPLE, env={"REDIS_URL": ""})
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    found = {(m["task"], m["kind"]) for m in report["mismatches"]}
    assert ("geocode_location", "arg_drift") in found
    assert ("generate_thumbnails", "arg_drift") in found
    assert any(kind == "observed_state" for _, kind in found)
    # Retries behave alike: the upload without a file takes 4 attempts on both backends.
    assert not any(kind == "attempts" for _, kind in found)


def test_the_rewritten_app_imports_and_check_finds_nothing_left(example_copy: Path) -> None:
    assert main(["rewrite", str(example_copy), "-j", "1"]) == 0
    videos = (example_copy / "fastapi_app" / "routes" / "videos.py").read_text(encoding="utf-8")
    assert "process_task.delay(" in videos and "task_queue.put(" not in videos
    users = (example_copy / "fastapi_app" / "routes" / "users.py").read_text(encoding="utf-8")
    assert "send_email_task.delay(" in users
    imported = subprocess.run(
        [sys.executable, "-c", "import fastapi_app.main, fastapi_app.tasks.celery_tasks"],
        cwd=example_copy,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    assert main(["check", str(example_copy), "-j", "1"]) == 0


@pytest.mark.worker
def test_doctor_passes_on_the_example_with_its_worker(
    embedded_url: str, worker_factory: Callable[..., Any]
) -> None:
    # The example's app uses Celery's default queue: only on a private (embedded) server.
    env = {"REDIS_URL": embedded_url}
    worker_factory(CELERY_APP, cwd=EXAMPLE, env=env, ready_timeout=30)
    done = _q2c("doctor", "-A", CELERY_APP, "--json", cwd=EXAMPLE, env=env)
    report = json.loads(done.stdout)
    statuses = {c["name"]: c["status"] for c in report["checks"]}
    assert done.returncode == 0, done.stdout
    assert statuses["workers"] == statuses["registered"] == statuses["queues"] == "PASS"
    registered = next(c for c in report["checks"] if c["name"] == "registered")
    for task in ("process_task", "send_email", "process_video_upload", "geocode_location"):
        assert task in registered["detail"]
