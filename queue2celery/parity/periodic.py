"""Periodic parity: N ticks of the legacy loop's function against N ticks of its Celery task.

The legacy side calls the function N times in process, one after the other, as its loop did.
The Celery side sends N ticks, spaced like beat's (a fixed rate), to a real worker running the
task. Compared tick by tick: the arguments the function received (type-exact), its result or
exception; and on each side, whether any run overlapped another. A tick skipped because the
previous run still held the lock is reported: the interval is shorter than a run.

``queue2celery parity-periodic --json`` prints ``PeriodicParityReport.to_dict()``:
``{"ok": bool, "task", "ticks": N, "interval": seconds, "backend": {"redis"},
"overlaps": {"legacy": n, "celery": n}, "mismatches": [{"tick", "kind", "legacy", "celery",
"detail"}]}``; ``kind`` is one of ``arg_drift``, ``result``, ``exception``, ``skipped``,
``missing``, ``overlap``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import redis
from celery import Celery

from .._embedded import embedded_redis
from ..celery_tasks import start_worker
from ..celery_tasks._loop import resolve
from ..errors import HarnessError, WorkerStartError, redact_url
from ._periodic_compare import PeriodicMismatch, compare_periodic, overlaps
from ._periodic_record import describe_call, describe_outcome

__all__ = [
    "PeriodicMismatch",
    "PeriodicParityReport",
    "compare_periodic",
    "overlaps",
    "run_periodic",
]

_PROBE_APP = "queue2celery.parity._periodic_probe:app"


@dataclass
class PeriodicParityReport:
    task: str
    ticks: int
    interval: float
    backend: dict[str, Any]
    legacy_runs: list[dict[str, Any]] = field(default_factory=list)
    celery_runs: list[dict[str, Any]] = field(default_factory=list)
    mismatches: list[PeriodicMismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "task": self.task,
            "ticks": self.ticks,
            "interval": self.interval,
            "backend": self.backend,
            "overlaps": {
                "legacy": len(overlaps(self.legacy_runs)),
                "celery": len(overlaps(self.celery_runs)),
            },
            "mismatches": [m.to_dict() for m in self.mismatches],
        }


def _load(spec: str, what: str) -> Any:
    from celery.utils.imports import symbol_by_name

    try:
        return symbol_by_name(spec.replace(":", ".", 1) if ":" in spec else spec)
    except Exception as exc:  # the user's module: any import error is theirs to see
        raise HarnessError(
            f"could not import the {what} {spec!r} ({type(exc).__name__}: {exc}): "
            "give MODULE:NAME importable from the current directory"
        ) from exc


def _legacy_runs(
    function: Callable[..., Any], ticks: int, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> list[dict[str, Any]]:
    runs = []
    for tick in range(ticks):
        start = time.time()
        state, retval = "SUCCESS", None
        call = describe_call(function, args, kwargs)
        try:
            retval = resolve(function(*args, **kwargs))
        except Exception as exc:  # a legacy loop logs and goes on: so does this
            state, retval = "FAILURE", exc
        runs.append(
            {
                "tick": tick,
                "start": start,
                "end": time.time(),
                "state": state,
                "call": call,
                **describe_outcome(state, retval),
            }
        )
    return runs


def _sender(app_spec: str, url: str, cwd: str | None) -> tuple[Celery, Celery]:
    """The user's app (for its task names and key prefix) and a sender bound to ``url``."""
    import sys

    from celery.app.utils import find_app

    directory = cwd or os.getcwd()
    if directory not in sys.path:
        sys.path.insert(0, directory)
    saved = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = url
    try:
        user_app = find_app(app_spec)
    except Exception as exc:  # the user's module: any import error is theirs to see
        raise HarnessError(
            f"could not import the Celery app {app_spec!r} ({type(exc).__name__}: {exc}): "
            "give MODULE[:ATTR] importable from the current directory"
        ) from exc
    finally:
        if saved is None:
            os.environ.pop("REDIS_URL", None)
        else:
            os.environ["REDIS_URL"] = saved
    sender = Celery("q2c-periodic-parity", set_as_current=False)
    sender.conf.update(
        broker_url=url,
        broker_transport_options=dict(user_app.conf.broker_transport_options or {}),
        task_serializer="json",
        accept_content=["json"],
    )
    return user_app, sender


def _celery_runs(
    app_spec: str,
    task: str,
    url: str,
    ticks: int,
    interval: float,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    cwd: str | None,
    timeout: float,
) -> list[dict[str, Any]]:
    user_app, sender = _sender(app_spec, url, cwd)
    if task not in user_app.tasks:
        known = sorted(name for name in user_app.tasks if not name.startswith("celery."))
        raise HarnessError(f"the app {app_spec!r} has no task {task!r}; it has {known!r}")
    run_id = uuid.uuid4().hex[:10]
    key, queue = f"q2c:periodic-parity:{run_id}", f"q2c-periodic-parity-{run_id}"
    env = {name: url for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")}
    env.update(
        Q2C_PERIODIC_APP=app_spec,
        Q2C_PERIODIC_TASK=task,
        Q2C_PERIODIC_KEY=key,
        Q2C_PERIODIC_REDIS=url,
    )
    client = redis.Redis.from_url(url, socket_timeout=5)
    # Several threads: a run that could overlap the previous one is given the chance to.
    worker = start_worker(
        _PROBE_APP, env=env, cwd=cwd, pool="threads", concurrency=4, queues=[queue]
    )
    try:
        try:
            worker.wait_ready(60)
        except WorkerStartError as exc:
            raise HarnessError(str(exc)) from exc
        started = time.monotonic()
        for tick in range(ticks):
            # Fixed rate, as beat ticks: the next tick does not wait for the run to end.
            delay = started + tick * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sender.send_task(
                task, args=list(args), kwargs=kwargs, queue=queue, headers={"q2c_tick": tick}
            )
        deadline = time.monotonic() + timeout
        while client.llen(key) < ticks and time.monotonic() < deadline:
            if not worker.alive():
                raise HarnessError(f"the worker exited with code {worker.popen.returncode}")
            time.sleep(0.05)
        return [json.loads(raw) for raw in client.lrange(key, 0, -1)]
    finally:
        worker.stop()
        client.delete(key)
        client.close()
        sender.close()


def run_periodic(
    legacy: str | Callable[..., Any],
    task: str,
    *,
    app: str,
    ticks: int = 3,
    args: tuple[Any, ...] = (),
    kwargs: dict[str, Any] | None = None,
    interval: float | None = None,
    redis_url: str | None = None,
    cwd: str | None = None,
    timeout: float = 60.0,
) -> PeriodicParityReport:
    """Run ``ticks`` ticks of ``legacy`` (MODULE:FUNCTION or the callable) in process and of the
    Celery task named ``task`` (of the app ``app``, MODULE[:ATTR]) on a real worker.

    ``interval``: seconds between Celery ticks; default the longest legacy run plus 0.5 s (a
    shorter one makes ticks skip). ``redis_url`` None: an embedded server.
    """
    if ticks < 1:
        raise HarnessError(f"ticks={ticks!r}: run at least one tick")
    kwargs = dict(kwargs or {})
    function = _load(legacy, "legacy function") if isinstance(legacy, str) else legacy
    if not callable(function):
        raise HarnessError(f"the legacy function {legacy!r} is not callable")
    legacy_runs = _legacy_runs(function, ticks, args, kwargs)
    if interval is None:
        interval = max(r["end"] - r["start"] for r in legacy_runs) + 0.5
    report = PeriodicParityReport(
        task=task,
        ticks=ticks,
        interval=interval,
        backend={"redis": redact_url(redis_url) if redis_url else "embedded"},
        legacy_runs=legacy_runs,
    )
    if redis_url:
        report.celery_runs = _celery_runs(
            app, task, redis_url, ticks, interval, args, kwargs, cwd, timeout
        )
    else:
        with embedded_redis() as url:
            report.celery_runs = _celery_runs(
                app, task, url, ticks, interval, args, kwargs, cwd, timeout
            )
    report.mismatches = compare_periodic(legacy_runs, report.celery_runs, ticks, interval)
    return report
