from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from queue2celery.celery_tasks import run_worker
from queue2celery.celery_tasks.worker import split_app_option, worker_argv
from queue2celery.cli import cli
from queue2celery.errors import ConfigError, WorkerStartError

SCRIPT = Path(sys.executable).parent / ("queue2celery.exe" if os.name == "nt" else "queue2celery")

# --- worker_argv ---------------------------------------------------------------------

WINDOWS_POOL_CASES = [
    pytest.param([], ["--pool=solo"], id="no-pool-chosen-gets-solo"),
    pytest.param(["--loglevel=INFO"], ["--loglevel=INFO", "--pool=solo"], id="other-options-kept"),
    pytest.param(["-P", "threads"], ["-P", "threads"], id="short-option"),
    pytest.param(["-Pthreads"], ["-Pthreads"], id="short-option-attached"),
    pytest.param(["--pool", "threads"], ["--pool", "threads"], id="long-option"),
    pytest.param(["--pool=gevent"], ["--pool=gevent"], id="long-option-with-equals"),
    pytest.param(["--pool-start-method", "spawn"], ["--pool-start-method", "spawn", "--pool=solo"],
                 id="pool-start-method-is-not-a-pool"),
    pytest.param(["-Q", "x", "--", "--pool=threads"],
                 ["-Q", "x", "--pool=solo", "--", "--pool=threads"],
                 id="after-double-dash-is-not-an-option"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "expected_extra"), WINDOWS_POOL_CASES)
def test_on_windows_solo_is_added_unless_the_user_chose_a_pool(
    extra: list[str], expected_extra: list[str]
) -> None:
    assert worker_argv("proj.celery:app", extra, "win32") == [
        "-A",
        "proj.celery:app",
        "worker",
        *expected_extra,
    ]


@pytest.mark.parametrize("platform", ["linux", "darwin", "cygwin", "freebsd14"])
@pytest.mark.parametrize("extra", [[], ["--loglevel", "INFO"], ["-P", "threads"]])
def test_elsewhere_the_platform_default_pool_stays(platform: str, extra: list[str]) -> None:
    assert worker_argv("proj:app", extra, platform) == ["-A", "proj:app", "worker", *extra]


def test_a_pool_chosen_in_the_environment_counts_as_the_users_choice() -> None:
    environ = {"CELERY_WORKER_POOL": "threads"}
    assert worker_argv("proj:app", [], "win32", environ=environ) == ["-A", "proj:app", "worker"]
    assert worker_argv("proj:app", [], "win32", environ={}) == [
        "-A",
        "proj:app",
        "worker",
        "--pool=solo",
    ]


@pytest.mark.parametrize("spec", ["", "-Q"])
def test_worker_argv_rejects_a_missing_app(spec: str) -> None:
    with pytest.raises(ConfigError, match="MODULE:ATTR"):
        worker_argv(spec, [], "linux")


# --- split_app_option ----------------------------------------------------------------

SPLIT_CASES = [
    pytest.param(["-A", "m:app", "-l", "INFO"], "m:app", ["-l", "INFO"], id="short"),
    pytest.param(["-Am:app"], "m:app", [], id="short-attached"),
    pytest.param(["--app", "m"], "m", [], id="long"),
    pytest.param(["--loglevel=INFO", "--app=m.celery"], "m.celery", ["--loglevel=INFO"],
                 id="long-with-equals-anywhere"),
    pytest.param(["-lWARNING", "-A", "m", "-QAlpha,beta", "-Qhigh"], "m",
                 ["-lWARNING", "-QAlpha,beta", "-Qhigh"], id="an-A-inside-other-options-stays"),
    pytest.param(["-A", "m", "--", "-A", "x"], "m", ["--", "-A", "x"], id="after-double-dash"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "app", "rest"), SPLIT_CASES)
def test_split_app_option(args: list[str], app: str, rest: list[str]) -> None:
    assert split_app_option(args) == (app, rest)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param([], id="missing"),
        pytest.param(["-A"], id="without-value"),
        pytest.param(["-A", "a", "--app", "b"], id="twice"),
    ],
)
def test_split_app_option_needs_exactly_one_app(args: list[str]) -> None:
    with pytest.raises(ConfigError, match="-A"):
        split_app_option(args)


# --- the command ---------------------------------------------------------------------


def test_the_worker_command_without_an_app_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["worker", "--loglevel=INFO"])
    assert result.exit_code == 2
    assert "-A MODULE[:ATTR]" in result.output


def test_the_worker_command_help_names_the_pool_rule() -> None:
    result = CliRunner().invoke(cli, ["worker", "--help"])
    assert result.exit_code == 0
    assert "--pool=solo on Windows" in result.output


MISSING_APP = "q2c_no_such_module_for_tests:app"


@pytest.fixture(scope="module")
def celery_exit_code(tmp_path_factory: pytest.TempPathFactory) -> int:
    """What ``celery -A <missing module> worker`` itself exits with."""
    done = subprocess.run(
        [sys.executable, "-m", "celery", *worker_argv(MISSING_APP, [], "linux")],
        cwd=tmp_path_factory.mktemp("celery-exit"),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    return done.returncode


def test_run_worker_returns_celerys_exit_code(
    celery_exit_code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = worker_argv(MISSING_APP, [], "linux")
    assert run_worker(argv, replace_process=False) == celery_exit_code


def test_the_command_exits_with_celerys_exit_code(celery_exit_code: int, tmp_path: Path) -> None:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: pip install -e . installs it"
    command = [str(SCRIPT), "worker", "-A", MISSING_APP]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, timeout=60)
    assert done.returncode == celery_exit_code
    assert b"q2c_no_such_module_for_tests" in done.stderr + done.stdout


WORKER_APP = """
from queue2celery.celery_tasks import make_celery_app

app = make_celery_app("{name}")
app.conf.task_default_queue = "{name}-default"
app.conf.result_expires = 600

@app.task(name="{name}.echo", shared=False)
def echo(item):
    return item
"""


@pytest.fixture
def command_process() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Run ``queue2celery ...`` as a subprocess in its own session; killed on teardown."""
    started: list[subprocess.Popen[bytes]] = []

    def _run(
        args: list[str], *, cwd: Path, env: dict[str, str], log: Path
    ) -> subprocess.Popen[bytes]:
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [str(SCRIPT), *args],
                cwd=cwd,
                env={**os.environ, **env, "PYTHONUNBUFFERED": "1"},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        started.append(process)
        return process

    yield _run
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.mark.worker
@pytest.mark.skipif(os.name != "posix", reason="stops the worker with SIGTERM")
def test_the_worker_command_starts_a_real_worker_that_takes_passed_through_options(
    broker_url: str,
    write_module: Callable[[str, str], Path],
    unique_name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command_process: Callable[..., subprocess.Popen[bytes]],
) -> None:
    assert SCRIPT.exists(), f"{SCRIPT} is missing: pip install -e . installs it"
    module_name = unique_name.replace("-", "_") + "_cli"
    write_module(module_name, WORKER_APP.format(name=unique_name))
    monkeypatch.setenv("REDIS_URL", broker_url)
    module = __import__(module_name)
    log = tmp_path / "worker.log"
    # -Q and -n are Celery's own options: the worker only consumes the queue named here.
    process = command_process(
        ["worker", "-A", f"{module_name}:app", "--pool=solo", "-Q", unique_name,
         "-n", f"{unique_name}@%h", "--without-gossip", "--without-mingle",
         "--without-heartbeat", "--loglevel=INFO"],
        cwd=tmp_path,
        env={"REDIS_URL": broker_url},
        log=log,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while " ready." not in log.read_text(errors="replace") and time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        time.sleep(0.05)
    assert " ready." in log.read_text(errors="replace")
    assert "solo" in log.read_text(errors="replace")

    result = module.echo.apply_async(args=[{"值": [1, 2]}], queue=unique_name)
    assert result.get(timeout=30) == {"值": [1, 2]}

    process.send_signal(signal.SIGTERM)  # the process *is* celery: exec replaced it
    assert process.wait(timeout=30) == 0
    result.forget()
    module.app.close()


@pytest.mark.parametrize("replace_process", [False, True], ids=["child", "exec"])
def test_run_worker_says_what_to_do_when_python_cannot_be_run(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, replace_process: bool
) -> None:
    # A missing interpreter fails before exec replaces anything: safe to try in-process.
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python-here"))
    with pytest.raises(WorkerStartError, match="celery installed"):
        run_worker(["-A", "m", "worker"], replace_process=replace_process)
