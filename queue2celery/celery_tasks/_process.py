"""Start and stop a real Celery worker process, with bounded waits.

Used by the parity harness, the demo and the tests: a worker is a separate process, as
in production, never eager mode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import WorkerStartError

__all__ = ["WorkerProcess", "start_worker"]

_IS_WINDOWS = sys.platform.startswith("win")


class WorkerProcess:
    """A running ``celery worker`` subprocess whose output goes to ``log_path``."""

    def __init__(
        self,
        popen: subprocess.Popen[bytes],
        log_path: Path,
        nodename: str,
        *,
        owns_log: bool = False,
    ) -> None:
        self.popen = popen
        self.log_path = log_path
        self.nodename = nodename
        # A log file start_worker made itself is deleted by stop(); a caller's is kept.
        self._owns_log = owns_log

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.log():
                return
            if not self.alive():
                raise WorkerStartError(
                    f"the Celery worker exited with code {self.popen.returncode} before it was "
                    f"ready; its log ends with:\n{_tail(self.log())}"
                )
            time.sleep(0.05)
        raise WorkerStartError(
            f"the Celery worker was not ready within {timeout:.0f}s; check that the broker "
            f"answers and the app imports. Its log ends with:\n{_tail(self.log())}"
        )

    def kill(self) -> None:
        """SIGKILL the whole process group (the worker and any pool children)."""
        self._signal(signal.SIGKILL if not _IS_WINDOWS else signal.SIGTERM)
        self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10.0) -> None:
        """Warm shutdown, then SIGKILL if the worker has not exited within ``timeout``."""
        if self.alive():
            self._signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        # Pool children may outlive a worker that was killed; the group goes with it.
        self._signal(signal.SIGKILL if not _IS_WINDOWS else signal.SIGTERM)
        if self._owns_log:
            self.log_path.unlink(missing_ok=True)

    def _signal(self, sig: int) -> None:
        try:
            if _IS_WINDOWS:
                self.popen.send_signal(sig)
            else:
                os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])


def start_worker(
    app: str,
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    pool: str = "solo",
    concurrency: int | None = None,
    queues: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
) -> WorkerProcess:
    """Start ``celery -A app worker`` in its own process group; does not wait for it."""
    nodename = f"q2c-{uuid.uuid4().hex[:8]}@%h"
    argv = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app,
        "worker",
        f"--pool={pool}",
        "--loglevel=INFO",
        "-n",
        nodename,
        # Gossip and mingle only slow start-up here; heartbeats are not needed.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if concurrency is not None:
        argv.append(f"--concurrency={concurrency}")
    if queues:
        argv.append("--queues=" + ",".join(queues))
    argv.extend(extra_args)
    owns_log = log_path is None
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix="q2c-worker-", suffix=".log")
        os.close(fd)
        log_path = Path(name)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    kwargs: dict[str, object] = {}
    if _IS_WINDOWS:
        kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
    else:
        kwargs["start_new_session"] = True
    with open(log_path, "wb") as log:
        popen = subprocess.Popen(  # argv is built above, no shell
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            cwd=cwd,
            **kwargs,  # type: ignore[call-overload]
        )
    return WorkerProcess(popen, log_path, nodename, owns_log=owns_log)
