"""The processes ``queue2celery up`` runs, and the one log stream they write to.

Each child runs in its own process group (a Ctrl-C on the terminal reaches ``up`` only, which
then stops the children in order), and a thread per child copies its output, line by line,
into the shared stream with the child's name in front.
"""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence

__all__ = ["Child", "LogStream", "exit_code_of"]

_IS_WINDOWS = sys.platform.startswith("win")
# ANSI colours for the name column, in start order; used on a terminal only.
_COLOURS = ("36", "33", "35", "32", "34", "91", "96", "93")


class LogStream:
    """Lines from every process, each prefixed with its name, written whole and in order."""

    def __init__(self, write: Callable[[str], None], *, color: bool = False) -> None:
        self._write = write
        self._color = color
        self._lock = threading.Lock()
        self._width = 6
        self._colours: dict[str, str] = {}

    def register(self, name: str) -> None:
        with self._lock:
            self._width = max(self._width, len(name))
            self._colours.setdefault(name, _COLOURS[len(self._colours) % len(_COLOURS)])

    def line(self, name: str, text: str) -> None:
        self.register(name)
        with self._lock:
            label = f"{name:<{self._width}} |"
            if self._color:
                label = f"\x1b[{self._colours[name]}m{label}\x1b[0m"
            self._write(f"{label} {text}")


class Child:
    """One running process of the stack, with its recent output kept for readiness checks."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        cwd: str | None,
        stream: LogStream,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self._stream = stream
        self._recent: collections.deque[str] = collections.deque(maxlen=400)
        self._recent_lock = threading.Lock()
        kwargs: dict[str, object] = {}
        if _IS_WINDOWS:
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        else:
            kwargs["start_new_session"] = True
        stream.register(name)
        self.popen = subprocess.Popen(  # noqa: S603 - argv built by the caller, no shell
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=dict(env),
            cwd=cwd,
            **kwargs,  # type: ignore[call-overload]
        )
        self._reader = threading.Thread(target=self._copy, name=f"q2c-up-{name}", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _copy(self) -> None:
        assert self.popen.stdout is not None
        for raw in iter(self.popen.stdout.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._recent_lock:
                self._recent.append(text)
            self._stream.line(self.name, text)
        self.popen.stdout.close()

    def saw(self, marker: str) -> bool:
        with self._recent_lock:
            return any(marker in line for line in self._recent)

    def returncode(self) -> int | None:
        return self.popen.poll()

    def stop(self, timeout: float) -> None:
        """Ask the process group to stop; SIGKILL it after ``timeout`` seconds."""
        if self.popen.poll() is None:
            self._signal(signal.CTRL_BREAK_EVENT if _IS_WINDOWS else signal.SIGTERM)  # type: ignore[attr-defined]
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._stream.line(self.name, f"(did not stop within {timeout:.0f}s: killed)")
                self._signal(signal.SIGKILL if not _IS_WINDOWS else signal.SIGTERM)
                self.popen.wait(timeout=10)
        # A worker's pool children may outlive it: the whole group goes.
        if not _IS_WINDOWS:
            self._signal(signal.SIGKILL)
        self._reader.join(timeout=5)

    def _signal(self, sig: int) -> None:
        try:
            if _IS_WINDOWS:
                self.popen.send_signal(sig)
            else:
                os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError, OSError):
            pass


def exit_code_of(returncode: int) -> int:
    """A non-zero exit code for ``up`` from a child's return code (signal N -> 128 + N)."""
    if returncode < 0:
        return 128 - returncode
    return returncode or 1


def wait_for(
    check: Callable[[], bool],
    *,
    timeout: float,
    child: Child | None,
    stopping: threading.Event,
    interval: float = 0.1,
) -> str:
    """Poll ``check``: "ready", "timeout", "died" (the child exited) or "stopped"."""
    deadline = time.monotonic() + timeout
    while True:
        if stopping.is_set():
            return "stopped"
        if check():
            return "ready"
        if child is not None and child.returncode() is not None:
            return "died"
        if time.monotonic() >= deadline:
            return "timeout"
        stopping.wait(interval)
