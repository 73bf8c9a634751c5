"""``queue2celery init`` on ``kb``, the held-out app (tests/migrate/init_apps/kb): host-bound
work kept local, wrappers and manager methods covered by their queue, a manager built only at
run time given a stub that says how the worker gets one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _init_apps import make_app, snapshot

from queue2celery.cli import main
from queue2celery.migrate import check, load_config


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    root = make_app("kb", tmp_path_factory.mktemp("kb"))
    code, out = _init(root)
    assert code == 1, out  # stubs remain
    return root, out


def _init(root: Path) -> tuple[int, str]:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("queue2celery")), "init", str(root), "-j", "1"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.returncode, done.stdout + done.stderr


def _tables(root: Path) -> dict[str, dict[str, str]]:
    config = load_config(root)
    return {"queues": dict(config.queues), "functions": dict(config.functions)}


def test_host_bound_work_gets_no_task_and_no_mapping(kb: tuple[Path, str]) -> None:
    root, out = kb
    assert (
        "kept local (no task, not mapped): kb.services.indexer.remove_upload: deletes a local "
        "file: this must run on this host, keep it local"
    ) in out
    assert "kb.services.indexer.remove_upload" not in _tables(root)["functions"]
    assert "remove_upload" not in (root / "kb/celery_tasks.py").read_text()


def test_wrappers_and_manager_methods_are_covered_by_the_queue_they_put_onto(
    kb: tuple[Path, str],
) -> None:
    root, out = kb
    for name, queue in (
        ("kb.core.events.send_event", "kb.core.events._events"),
        ("kb.core.legacy.audit", "kb.core.legacy.audit_q"),
        ("kb.core.jobs.JobManager.submit", "kb.core.jobs.JobManager._queue"),
    ):
        assert f"covered: {name} puts onto {queue}: that queue's mapping covers" in out
        assert f"not done: {name}:" not in out
        assert name not in _tables(root)["queues"]
    assert "init cannot find the statement" not in out


def test_a_manager_built_at_run_time_gets_a_stub_that_says_how_the_worker_gets_one(
    kb: tuple[Path, str],
) -> None:
    root, out = kb
    assert "stub to fill in: kb.celery_tasks.run_jobmanager_queue" in out
    assert "instances are built at run time" not in out
    assert "not done: kb.core.jobs.JobManager._queue" not in out
    queues = _tables(root)["queues"]
    assert queues["kb.core.jobs.JobManager._queue"] == "kb.celery_tasks.dispatch_jobmanager_queue"
    tasks = (root / "kb/celery_tasks.py").read_text()
    stub = tasks.split("def run_jobmanager_queue(")[1].split("\ndef ")[0]
    assert "q2c: init-stub" in stub
    assert "#     job = await self._queue.get()" in stub  # the consumer loop, quoted
    assert "#   the app, at kb/main.py:14 (lifespan):" in stub
    assert "#       jobs = JobManager(concurrency=4)\n" in stub
    assert "#       register_all(jobs)\n" in stub
    assert "#   return owner._handlers[route_jobmanager_queue(item)](item)" in stub
    assert "return resolve_awaitable(run_jobmanager_queue(item))" in tasks
    found = check(root, load_config(root), jobs=1)
    stubs = [f for f in found.findings if f.code == "Q2C901"]
    assert any("run_jobmanager_queue" in f.message for f in stubs)


def test_the_generated_module_imports_and_a_second_init_changes_nothing(
    kb: tuple[Path, str],
) -> None:
    root, _ = kb
    before = snapshot(root)
    code, out = _init(root)
    assert code == 1, out
    assert snapshot(root) == before
    done = subprocess.run(
        [sys.executable, "-c", "import kb.celery_tasks as t; print(sorted(t.celery_app.tasks))"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "kb.celery_tasks.dispatch_jobmanager_queue" in done.stdout


def test_cli_main_reports_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_app("kb", tmp_path)
    assert main(["init", str(root), "-j", "1", "--diff"]) == 1
    out = capsys.readouterr().out
    assert "covered: kb.core.events.send_event" in out
    assert "kept local (no task, not mapped): kb.services.indexer.remove_upload" in out
