"""``queue2celery beat``: Celery beat with exactly one scheduler ticking at a time.

Two ``celery beat`` processes send every task twice (celery #2856): beat has no notion of a
peer. This runs beat with celery-redbeat (``_beat_scheduler.Scheduler``): the schedule lives
in Redis, the first beat takes a lock and ticks, every other one waits for the lock and
takes over within ``lock_timeout + max_interval`` seconds of the leader's death.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, WorkerStartError
from ._beat_scheduler import (
    DEFAULT_MAX_INTERVAL,
    LOCK_INTERVALS,
    LOCK_TIMEOUT_ENV,
    MAX_INTERVAL_ENV,
    check_lock_timeout,
)
from ._process import WorkerProcess, _tail
from .worker import celery_command

__all__ = [
    "ACQUIRED_MARK",
    "SCHEDULER",
    "BeatOptions",
    "BeatProcess",
    "beat_argv",
    "start_beat",
]

#: The scheduler class given to ``celery beat -S``.
SCHEDULER = "queue2celery.celery_tasks._beat_scheduler:Scheduler"
#: What redbeat logs (INFO) once this beat holds the lock and ticks.
ACQUIRED_MARK = "beat: Acquired lock"
_IS_WINDOWS = sys.platform.startswith("win")


@dataclass(frozen=True)
class BeatOptions:
    """The lock's timing; ``None`` leaves the app's setting, else our default."""

    lock_timeout: float | None = None
    max_interval: float | None = None

    def env(self) -> dict[str, str]:
        """The environment the scheduler reads these from (beat's own options cannot carry
        the lock timeout)."""
        interval = self.max_interval
        if interval is not None or self.lock_timeout is not None:
            check_lock_timeout(
                self.lock_timeout
                if self.lock_timeout is not None
                else LOCK_INTERVALS * (interval or DEFAULT_MAX_INTERVAL),
                interval or DEFAULT_MAX_INTERVAL,
            )
        env: dict[str, str] = {}
        if self.lock_timeout is not None:
            env[LOCK_TIMEOUT_ENV] = repr(float(self.lock_timeout))
        if interval is not None:
            env[MAX_INTERVAL_ENV] = repr(float(interval))
        return env


def _user_chose_scheduler(extra_args: Sequence[str]) -> str | None:
    for i, arg in enumerate(extra_args):
        if arg == "--":
            break
        if arg in ("-S", "--scheduler") and i + 1 < len(extra_args):
            return extra_args[i + 1]
        if arg.startswith("--scheduler="):
            return arg.split("=", 1)[1]
        if arg.startswith("-S") and len(arg) > 2:
            return arg[2:]
    return None


def beat_argv(app_spec: str, extra_args: Sequence[str] = ()) -> list[str]:
    """The arguments after ``celery``: ``-A APP beat -S <our scheduler> [extra_args]``.

    Another ``-S`` is refused: any other scheduler lets two beats tick at once.
    """
    if not app_spec or app_spec.startswith("-"):
        raise ConfigError(
            f"-A needs the app as MODULE or MODULE:ATTR, got {app_spec!r}: "
            "e.g. queue2celery beat -A myproject.celery_app:app"
        )
    chosen = _user_chose_scheduler(extra_args)
    if chosen is not None and chosen != SCHEDULER:
        raise ConfigError(
            f"queue2celery beat runs its own lock-holding scheduler, got -S {chosen!r}: "
            "drop -S (use `celery beat` directly to run another scheduler)"
        )
    argv = ["-A", app_spec, "beat", "-S", SCHEDULER, *extra_args]
    if not any(a.startswith(("-l", "--loglevel")) for a in extra_args):
        # INFO shows "Acquired lock", which tells which beat is the leader.
        argv.insert(argv.index("beat") + 1, "--loglevel=INFO")
    return argv


class BeatProcess(WorkerProcess):
    """A running ``celery beat`` subprocess; ready once it holds the lock."""

    def holds_lock(self) -> bool:
        return ACQUIRED_MARK in self.log()

    def wait_ready(self, timeout: float) -> None:
        """Wait until this beat holds the lock (a standby never is: it waits for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.holds_lock():
                return
            if not self.alive():
                raise WorkerStartError(
                    f"celery beat exited with code {self.popen.returncode} before it held "
                    f"the lock; its log ends with:\n{_tail(self.log())}"
                )
            time.sleep(0.05)
        raise WorkerStartError(
            f"celery beat did not take the scheduler lock within {timeout:.0f}s: another beat "
            f"holds it, or the broker does not answer. Its log ends with:\n{_tail(self.log())}"
        )


def start_beat(
    app: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    options: BeatOptions = BeatOptions(),
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
) -> BeatProcess:
    """Start ``celery -A app beat`` with the lock scheduler in its own process group."""
    argv = celery_command(beat_argv(app, extra_args))
    owns_log = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="q2c-beat-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.update(options.env())
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    kwargs: dict[str, object] = {}
    if _IS_WINDOWS:
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        kwargs["start_new_session"] = True
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(  # noqa: S603 - argv is built above, no shell
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            **kwargs,  # type: ignore[call-overload]
        )
    return BeatProcess(popen, log_path, f"beat-{uuid.uuid4().hex[:8]}", owns_log=owns_log)
