"""``queue2celery parity``: exit codes, --json as docs/json.md says, --junit-xml, harness errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from queue2celery.cli import main

EQUAL_MODULE = """
from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()


@task_queue.handler
def greet(name):
    return f"你好, {name}"


def workload(q):
    for name in ("小明", "Ana"):
        q.put(name)
"""


@pytest.mark.worker
def test_mismatches_exit_1_with_the_design_json_and_junit_xml(
    workload_file: Callable[[str], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    junit = tmp_path / "parity.xml"
    argv = ["parity", workload_file("arg_drift"), "--json", "--junit-xml", str(junit)]

    code = main([*argv, "--timeout", "20"])

    assert code == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"ok", "calls", "backend", "mismatches"}
    assert (report["ok"], report["calls"]) == (False, 3)
    assert [m["kind"] for m in report["mismatches"]] == ["arg_drift", "arg_drift"]
    first = report["mismatches"][0]
    assert set(first) == {"call", "task", "kind", "legacy", "celery", "detail"}
    assert (first["call"], first["task"], first["legacy"], first["celery"]) == (
        0,
        "process_task",
        "(1, 2)",
        "[1, 2]",
    )
    suite = ET.parse(junit).getroot()
    assert (suite.tag, suite.get("tests"), suite.get("failures")) == ("testsuite", "4", "2")
    failures = suite.findall("testcase/failure")
    assert [f.get("type") for f in failures] == ["arg_drift", "arg_drift"]
    assert failures[0].get("message") == first["detail"]


@pytest.mark.worker
def test_agreeing_dotted_module_exits_0_with_a_plain_table(
    write_module: Callable[[str, str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    write_module("q2c_parity_cli_equal", EQUAL_MODULE)

    code = main(["parity", "q2c_parity_cli_equal", "--timeout", "20"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert "OK: both backends agree on all 2 call(s)" in out
    assert "\x1b[" not in out, "no colors when stdout is not a terminal"


BROKEN_MODULE = """
raise RuntimeError("settings.DATABASE_URL is not set")
"""


@pytest.mark.parametrize(
    ("files", "argv", "words"),
    [
        pytest.param({}, ["no_such_file.py"], "does not exist", id="missing-file"),
        pytest.param(
            {"broken_wl": BROKEN_MODULE},
            ["{tmp}/broken_wl.py"],
            "failed to import: RuntimeError: settings.DATABASE_URL is not set",
            id="import-error",
        ),
        pytest.param(
            {
                "no_driver": "from queue2celery.legacy_queue import TaskQueue\n"
                "task_queue = TaskQueue()\n"
            },
            ["{tmp}/no_driver.py"],
            "defines no workload(q) function",
            id="no-workload-function",
        ),
        pytest.param(
            {"ok_wl": EQUAL_MODULE},
            ["{tmp}/ok_wl.py", "--redis-url", "redis://:secret@127.0.0.1:{port}/0"],
            "does not answer",
            id="redis-down",
        ),
    ],
)
def test_harness_errors_exit_2_with_the_cause(
    files: dict[str, str],
    argv: list[str],
    words: str,
    write_module: Callable[[str, str], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    free_port: int,
) -> None:
    for name, source in files.items():
        write_module(name, source)
    args = [a.format(tmp=tmp_path, port=free_port) for a in argv]

    code = main(["parity", *args])

    err = capsys.readouterr().err
    assert code == 2
    assert words in err
    assert "secret" not in err


SLOW_MODULE = """
import os
import time

from queue2celery.legacy_queue import TaskQueue

with open(os.environ["Q2C_TEST_PIDS"], "a") as pids:
    pids.write(f"{os.getpid()}\\n")

task_queue = TaskQueue()


@task_queue.handler
def slow(item):
    time.sleep(30)


def workload(q):
    q.put("x")
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.worker
def test_ctrl_c_stops_the_worker_and_exits(tmp_path: Path) -> None:
    (tmp_path / "slow_wl.py").write_text(SLOW_MODULE, encoding="utf-8")
    pids = tmp_path / "pids"
    env = {**os.environ, "Q2C_TEST_PIDS": str(pids)}
    cli = subprocess.Popen(
        [sys.executable, "-m", "queue2celery.cli", "parity", str(tmp_path / "slow_wl.py")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        # Two imports: the harness's (legacy run) and the worker's.
        while time.monotonic() < deadline:
            if pids.exists() and len(pids.read_text().split()) >= 2:
                break
            time.sleep(0.1)
        started = [int(p) for p in pids.read_text().split()]
        assert cli.pid in started and len(started) == 2
        worker_pid = next(p for p in started if p != cli.pid)

        cli.send_signal(signal.SIGINT)
        code = cli.wait(timeout=20)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(timeout=10)

    assert code == 130
    deadline = time.monotonic() + 5
    while _alive(worker_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker_pid), "the worker outlived the interrupted harness"
