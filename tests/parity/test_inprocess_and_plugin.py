"""The in-process form ``parity.run(task_queue=..., workload=fn)`` and the pytest plugin."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from queue2celery import parity
from queue2celery.errors import HarnessError
from queue2celery.legacy_queue import TaskQueue

TASKS_MODULE = """
from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
STATUS = {}


@task_queue.handler
def process_task(item):
    STATUS[str(item)] = "done"
    return item
"""


@pytest.mark.worker
def test_in_process_form_finds_state_only_the_caller_process_sees(
    write_module: Callable[[str, str], Path], parity_redis: str | None
) -> None:
    write_module("q2c_parity_inproc_tasks", TASKS_MODULE)
    # Fresh per parametrization: the in-process form shares the caller's module state.
    sys.modules.pop("q2c_parity_inproc_tasks", None)
    import q2c_parity_inproc_tasks as tasks  # type: ignore[import-not-found]

    original = tasks.task_queue.handlers["process_task"]
    report = parity.run(
        task_queue=tasks.task_queue,
        workload=lambda q: q.put("v1"),
        observe=lambda: dict(tasks.STATUS),
        redis_url=parity_redis,
        timeout=20,
    )

    assert [m.kind for m in report.mismatches] == ["observed_state"], report.explain()
    assert 'observe()["v1"] is missing on Celery' in report.mismatches[0].detail
    # The caller's queue gets its own handlers back, with their own retry settings.
    assert tasks.task_queue.handlers["process_task"] == original


def test_handlers_defined_inside_a_function_are_refused_with_the_reason() -> None:
    local_queue = TaskQueue()

    @local_queue.handler
    def process_task(item: object) -> None:
        return None

    with pytest.raises(HarnessError, match="defined inside a function.*module level"):
        parity.run(task_queue=local_queue, workload=lambda q: q.put(1))


def test_run_refuses_ambiguous_arguments() -> None:
    with pytest.raises(HarnessError, match="nothing to run"):
        parity.run()
    with pytest.raises(HarnessError, match="needs workload=fn"):
        parity.run(task_queue=TaskQueue())


PLUGIN_TESTS = """
import wl_tasks
from queue2celery.legacy_queue import TaskQueue

local_queue = TaskQueue()


@local_queue.handler
def shout(text):
    return text.upper()


def test_queue_defined_in_the_test_module_itself(parity):
    report = parity.run(task_queue=local_queue, workload=lambda q: q.put("hi"))
    assert report.ok, report.explain()


def test_path_form_agrees(parity):
    report = parity.run("wl_equal.py", timeout=20)
    assert report.ok, report.explain()


def test_object_form_reports_the_drift(parity):
    report = parity.run(task_queue=wl_tasks.task_queue, workload=lambda q: q.put((1, 2)))
    assert [m.kind for m in report.mismatches] == ["arg_drift", "result"], report.explain()
    assert "payload arrives as a list on Celery" in report.explain()


def test_option_reaches_the_fixture(parity, pytestconfig):
    assert parity.redis_url == pytestconfig.getoption("parity_redis_url")
    assert parity.redis_url.startswith("redis://127.0.0.1:")
"""

EQUAL_WORKLOAD = """
from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()


@task_queue.handler
def double(n):
    return n * 2


def workload(q):
    for n in range(3):
        q.put(n)
"""


@pytest.mark.worker
def test_pytest_plugin_fixture_runs_both_forms_on_the_given_redis(
    tmp_path: Path, embedded_url: str
) -> None:
    (tmp_path / "wl_tasks.py").write_text(textwrap.dedent(TASKS_MODULE), encoding="utf-8")
    (tmp_path / "wl_equal.py").write_text(textwrap.dedent(EQUAL_WORKLOAD), encoding="utf-8")
    (tmp_path / "test_with_parity.py").write_text(PLUGIN_TESTS, encoding="utf-8")
    # A server this test started: the option must reach the harness in the pytest subprocess.
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_with_parity.py"]
    argv += ["--parity-redis-url", embedded_url]

    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=180)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 passed" in done.stdout
