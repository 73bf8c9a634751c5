"""``queue2celery worker``: start ``celery worker`` with a pool that works on the platform.

Windows cannot fork, so Celery's default prefork pool hangs or fails there: the worker
gets ``--pool=solo`` unless the user chose a pool. Everywhere else Celery's own default
stays. Every other option goes to Celery unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence

from ..errors import ConfigError, WorkerStartError

__all__ = [
    "celery_command",
    "run_worker",
    "split_app_option",
    "user_chose_pool",
    "worker_argv",
]

# click's automatic env var for ``celery worker --pool`` (Celery runs with prefix CELERY).
_POOL_ENV = "CELERY_WORKER_POOL"


def _options(args: Sequence[str]) -> list[str]:
    # Arguments after "--" are not options.
    args = list(args)
    return args[: args.index("--")] if "--" in args else args


def user_chose_pool(extra_args: Sequence[str], environ: Mapping[str, str] | None = None) -> bool:
    """True when ``extra_args`` (or ``CELERY_WORKER_POOL``) already pick a pool."""
    for arg in _options(extra_args):
        if arg == "--pool" or arg.startswith("--pool="):
            return True
        if arg.startswith("-P"):  # "-P solo" and "-Psolo"
            return True
    return bool(environ and environ.get(_POOL_ENV))


def worker_argv(
    app_spec: str,
    extra_args: Sequence[str] = (),
    platform: str = sys.platform,
    *,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """The arguments after ``celery``: ``-A APP worker [extra_args] [--pool=solo]``.

    ``--pool=solo`` is added on Windows only, and only when neither ``extra_args`` nor
    ``environ`` (``CELERY_WORKER_POOL``) choose a pool. A ``worker_pool`` set inside the
    app's configuration is not seen here (the app is not imported).
    """
    if not app_spec or app_spec.startswith("-"):
        raise ConfigError(
            f"-A needs the app as MODULE or MODULE:ATTR, got {app_spec!r}: "
            "e.g. queue2celery worker -A myproject.celery_app:app"
        )
    argv = ["-A", app_spec, "worker", *extra_args]
    if platform.startswith("win") and not user_chose_pool(extra_args, environ):
        if "--" in argv:
            argv.insert(argv.index("--"), "--pool=solo")
        else:
            argv.append("--pool=solo")
    return argv


def split_app_option(args: Sequence[str]) -> tuple[str, list[str]]:
    """Take ``-A APP`` / ``-AAPP`` / ``--app APP`` / ``--app=APP`` out of ``args``.

    Parsed by hand rather than by click: click would read the ``A`` inside a combined
    short option such as ``-lWARNING`` as ``-A``. Raises ConfigError without exactly one.
    """
    rest: list[str] = []
    found: list[str] = []
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg == "--":
            rest.extend(items[i:])
            break
        if arg in ("-A", "--app"):
            if i + 1 >= len(items):
                raise ConfigError(f"{arg} needs a value: MODULE or MODULE:ATTR")
            found.append(items[i + 1])
            i += 2
            continue
        if arg.startswith("--app="):
            found.append(arg[len("--app=") :])
        elif arg.startswith("-A") and not arg.startswith("--"):
            found.append(arg[2:])
        else:
            rest.append(arg)
        i += 1
    if len(found) != 1:
        raise ConfigError(
            f"give the Celery app exactly once with -A MODULE[:ATTR], got {found!r}: "
            "e.g. queue2celery worker -A myproject.celery_app:app --loglevel=INFO"
        )
    return found[0], rest


def celery_command(argv: Sequence[str]) -> list[str]:
    """The full command line running Celery's CLI with ``argv`` in this interpreter."""
    return [sys.executable, "-m", "celery", *argv]


def run_worker(argv: Sequence[str], *, replace_process: bool | None = None) -> int:
    """Run ``celery`` with ``argv``; returns its exit code.

    By default the process is replaced (``exec``) on POSIX, so signals from a process
    manager (Electron, systemd) reach the worker directly; this call then does not
    return. On Windows, where exec is emulated, a child process is run and awaited.
    Raises WorkerStartError when the interpreter cannot be run at all.
    """
    command = celery_command(argv)
    if replace_process is None:
        replace_process = os.name == "posix"
    try:
        if replace_process:
            sys.stdout.flush()
            sys.stderr.flush()
            os.execv(command[0], command)  # argv built above, no shell
        child = subprocess.Popen(command)
    except OSError as exc:
        raise WorkerStartError(
            f"could not run {command[0]!r} -m celery ({exc}); check that this Python has "
            "celery installed: pip install 'celery[redis]'"
        ) from exc
    with child:
        try:
            return child.wait()
        except KeyboardInterrupt:
            # The console sent Ctrl+C to the worker as well: let its warm shutdown finish.
            return child.wait()
