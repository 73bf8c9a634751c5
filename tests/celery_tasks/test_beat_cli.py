"""``queue2celery beat``: options, and a real beat run through the command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _periodic_app import JobsStack, jobs_stack

from queue2celery.celery_tasks._beat_scheduler import redbeat_key_prefix
from queue2celery.celery_tasks.beat import SCHEDULER, beat_argv
from queue2celery.cli import main
from queue2celery.errors import ConfigError


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["beat"], "give the Celery app exactly once"),
        (["beat", "-A", "x:app", "-S", "celery.beat:PersistentScheduler"], "drop -S"),
        (["beat", "-A", "x:app", "--lock-timeout", "soon"], "number of seconds"),
        (["beat", "-A", "x:app", "--lock-timeout", "3", "--max-interval", "2"], "at least twice"),
    ],
)
def test_bad_options_are_one_line_usage_errors(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_argv_runs_our_scheduler_at_info_level_and_passes_the_rest() -> None:
    argv = beat_argv("proj.celery:app", ["--pidfile=", "--max-interval", "2"])
    assert argv[:4] == ["-A", "proj.celery:app", "beat", "--loglevel=INFO"]
    assert argv[argv.index("-S") + 1] == SCHEDULER
    assert argv[-3:] == ["--pidfile=", "--max-interval", "2"]
    assert "--loglevel=INFO" not in beat_argv("p:app", ["-l", "DEBUG"])
    with pytest.raises(ConfigError):
        beat_argv("-x")


def test_the_lock_lives_under_the_apps_key_prefix() -> None:
    from celery import Celery

    app = Celery("p", broker="redis://127.0.0.1:1/0", set_as_current=False)
    assert redbeat_key_prefix(app) == "redbeat:"
    app.conf.broker_transport_options = {"global_keyprefix": "shop:"}
    assert redbeat_key_prefix(app) == "shop:redbeat:"
    app.conf.redbeat_key_prefix = "mine:"
    assert redbeat_key_prefix(app) == "mine:"


@pytest.fixture
def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobsStack]:
    with jobs_stack(request, tmp_path, backend="embedded") as stack:
        yield stack


@pytest.mark.worker
def test_the_command_ticks_and_a_graceful_stop_frees_the_lock_at_once(
    jobs: JobsStack, wait_until: Callable[..., Any]
) -> None:
    argv = [sys.executable, "-m", "queue2celery.cli", "beat", "-A", jobs.app_spec]
    argv += ["--lock-timeout", "30", "--max-interval", "1"]
    env = {**os.environ, "REDIS_URL": jobs.url, "PYTHONUNBUFFERED": "1"}
    beat = subprocess.Popen(
        argv,
        cwd=jobs.directory,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        assert wait_until(lambda: len(jobs.runs()) >= 2, timeout=40)
        lock = f"{jobs.name}:redbeat::lock"
        ttl = jobs.client().ttl(lock)
        assert 20 < ttl <= 30, ttl  # our --lock-timeout, under the app's prefix
        beat.send_signal(signal.SIGTERM)
        beat.wait(timeout=20)
        # Released, not left to expire: a standby takes over at its next look, not in 30 s.
        assert not jobs.client().exists(lock)
    finally:
        if beat.poll() is None:
            os.killpg(beat.pid, signal.SIGKILL)
            beat.wait(timeout=10)
        assert beat.stdout is not None
        beat.stdout.close()
