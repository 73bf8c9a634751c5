"""``parity.run``: one workload through the legacy queue and through Celery, compared.

The Celery worker starts first (its 1-2 s start overlaps the legacy run), in its own process
group, and is always stopped, also on Ctrl-C. Every wait has a deadline.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

from .._embedded import embedded_redis
from ..celery_tasks import WorkerProcess, start_worker
from ..celery_tasks._loop import resolve
from ..celery_tasks.status import sent_key
from ..compat import CompatQueue, Rollout
from ..errors import HarnessError, WorkerStartError, redact_url
from ..legacy_queue import AdoptedQueue, TaskQueue
from ._adopted import AdoptedRun
from ._calls import BackendRun, RecordingQueue, attach_attempts, wait_for_calls
from ._compare import compare_runs
from ._fingerprint import fingerprint
from ._isolation import ModuleIsolation
from ._recorder import (
    CeleryTaskIds,
    LegacyTaskIds,
    MemorySink,
    error_of,
    read_attempts,
    wrap_handlers,
)
from ._worker_app import (
    WORKER_APP,
    ParityRun,
    celery_url_vars_masked,
    parity_app,
    worker_environment,
)
from ._workload import (
    LoadedWorkload,
    WorkloadSpec,
    legacy_queue_of,
    load_fresh,
    spec_for_objects,
    spec_for_target,
)
from .report import ParityReport

__all__ = ["DEFAULT_TIMEOUT", "WORKER_READY_TIMEOUT", "run"]

DEFAULT_TIMEOUT = 60.0
WORKER_READY_TIMEOUT = 60.0
# How long a legacy worker thread gets to finish its item before it is left behind (daemon).
_STOP_TIMEOUT = 3.0


def run(
    workload: str | os.PathLike[str] | Callable[[Any], Any] | None = None,
    *,
    task_queue: TaskQueue | AdoptedQueue | None = None,
    workload_fn: Callable[[Any], Any] | None = None,
    observe: Callable[[], Any] | None = None,
    redis_url: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> ParityReport:
    """Run the workload on both backends and compare them.

    ``workload`` is a ``.py`` path or dotted module (fresh module state per backend), or, with
    ``task_queue=``, the driver function itself (the in-process form). ``redis_url=None`` runs on
    an embedded server; a URL runs on that Redis, in keys this run deletes afterwards. Raises
    :class:`HarnessError` when the harness itself cannot work (import, worker, Redis).
    """
    if timeout <= 0:
        raise HarnessError(f"timeout={timeout!r}: give a number of seconds above 0")
    spec, objects = _resolve(workload, task_queue, workload_fn, observe)
    legacy_modules = ModuleIsolation(enabled=spec.fresh)
    try:
        legacy_modules.enter()
        # The legacy run's fresh load comes first: a workload that does not import fails
        # here, before any worker or server starts.
        first = objects if objects is not None else load_fresh(spec)
        if redis_url is None:
            with embedded_redis() as url:
                report = _run(spec, first, objects, url, timeout, legacy_modules)
        else:
            _check_redis(redis_url)
            report = _run(spec, first, objects, redis_url, timeout, legacy_modules)
    except redis.RedisError as exc:
        shown = redact_url(redis_url) if redis_url else "the embedded server"
        raise HarnessError(
            f"Redis ({shown}) failed during the run: {type(exc).__name__}: {exc}; check that it "
            "stays up and is not out of memory, then run again"
        ) from exc
    finally:
        legacy_modules.exit()
    _require_every_call_compared(report)
    return report


def _require_every_call_compared(report: ParityReport) -> None:
    """A clean report must mean every call was compared on both backends.

    With no put at all, or a driver that stopped the same way on both (same exception, or a
    timeout), the two runs look alike but the calls after the stop were never made: nothing
    says they would agree. A difference found before the stop is reported as usual.
    """
    if not report.ok:
        return
    legacy, celery = report.legacy.workload_error, report.celery.workload_error
    if legacy is not None and celery is not None:
        made = max(len(report.legacy.calls), len(report.celery.calls))
        raise HarnessError(
            f"workload(q) stopped on both backends after {made} put(s) "
            f"({legacy.get('type')}: {legacy.get('message')}); the calls after that were "
            "never compared. Fix the workload so it runs to the end, then run parity again"
        )
    if report.calls == 0:
        raise HarnessError(
            "workload(q) made no put call on either backend: nothing was compared. Make it "
            "call q.put(...) (or q.put_nowait / q.put_many) on the queue it is given"
        )


def _resolve(
    workload: Any,
    task_queue: TaskQueue | AdoptedQueue | None,
    workload_fn: Callable[[Any], Any] | None,
    observe: Callable[[], Any] | None,
) -> tuple[WorkloadSpec, LoadedWorkload | None]:
    if callable(workload) and not isinstance(workload, (str, os.PathLike)):
        if workload_fn is not None:
            raise HarnessError("pass the driver once: workload=fn or workload_fn=fn, not both")
        workload, workload_fn = None, workload
    if task_queue is None:
        if workload is None:
            raise HarnessError(
                "nothing to run: pass a workload path or module, or task_queue= and workload="
            )
        if workload_fn is not None or observe is not None:
            raise HarnessError("workload_fn= and observe= go with task_queue=, not with a path")
        return spec_for_target(workload), None
    if workload is not None:
        raise HarnessError("pass either a workload path/module or task_queue=, not both")
    if workload_fn is None:
        raise HarnessError("task_queue= needs workload=fn: the function that makes the put calls")
    legacy_queue = legacy_queue_of(task_queue)
    if legacy_queue is None:
        raise HarnessError(
            f"task_queue={type(task_queue).__name__}: pass a TaskQueue or the app's queue "
            "wrapped with queue2celery.legacy_queue.adopt(queue, run=...)"
        )
    task_queue = legacy_queue
    spec = spec_for_objects(task_queue)
    return spec, LoadedWorkload(task_queue, workload_fn, observe)


def _check_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3)
    try:
        client.ping()
    except redis.RedisError as exc:
        raise HarnessError(
            f"Redis at {redact_url(url)} does not answer ({type(exc).__name__}: {exc}); start it, "
            "fix --redis-url, or leave it out to use the embedded server"
        ) from exc
    finally:
        client.close()


def _run(
    spec: WorkloadSpec,
    first: LoadedWorkload,
    objects: LoadedWorkload | None,
    url: str,
    timeout: float,
    legacy_modules: ModuleIsolation,
) -> ParityReport:
    parity = ParityRun(uuid.uuid4().hex[:12], url)
    celery_ids: list[str] = []
    with tempfile.TemporaryDirectory(prefix="q2c-parity-") as tmp:
        worker = start_worker(
            WORKER_APP,
            env=worker_environment(parity, spec, sys.path),
            queues=[parity.queue],
            log_path=Path(tmp) / "worker.log",
        )
        try:
            started = time.monotonic()
            # In-process, both runs share the caller's module state; Celery goes first so what
            # legacy handlers write in process memory cannot make Celery look right.
            if spec.fresh:
                legacy = _run_legacy(first, timeout)
                legacy_modules.exit()
                with ModuleIsolation(), celery_url_vars_masked():
                    celery = _run_celery(
                        spec, objects, parity, worker, started, timeout, celery_ids
                    )
            else:
                with celery_url_vars_masked():
                    celery = _run_celery(
                        spec, objects, parity, worker, started, timeout, celery_ids
                    )
                legacy = _run_legacy(first, timeout)
        finally:
            exit_code = worker.popen.poll()
            # Killed, not warm-stopped (which takes over a second): its queue is private, its
            # results are read, and every key it used is deleted next.
            worker.kill()
            _cleanup(parity, celery_ids)
        if any(c.handle is not None and not c.finished for c in celery.calls):
            # What the worker said is the first clue to why a task never finished.
            log = worker.log()
            celery.info["worker_log_tail"] = log.splitlines()[-20:]
            celery.info["broker_connection_lost"] = "Connection to broker lost" in log
            celery.info["worker_exit_code"] = exit_code
    return ParityReport(spec.label, legacy, celery, compare_runs(legacy, celery, timeout))


def _drive(loaded: LoadedWorkload, queue: RecordingQueue, run: BackendRun, limit: float) -> None:
    """Call ``workload(q)`` in a thread, for at most ``limit`` seconds.

    A driver that waits for something only a legacy handler provides would block forever on
    Celery; that is a finding (a workload error), and the harness goes on.
    """
    assert loaded.workload is not None
    driver = loaded.workload
    failure: list[BaseException] = []

    def drive() -> None:
        try:
            # An async workload (for an asyncio.Queue app) runs on a loop of its own thread.
            resolve(driver(queue))
        except BaseException as exc:  # the driver failing is a finding, not a harness error
            failure.append(exc)

    thread = threading.Thread(target=drive, name=f"q2c-parity-{run.name}-workload", daemon=True)
    thread.start()
    thread.join(limit)
    if thread.is_alive():
        run.workload_error = {
            "type": "Timeout",
            "message": f"workload(q) did not return within {limit:g}s",
        }
        queue.close()
    elif failure:
        run.workload_error = error_of(failure[0])


def _observe(loaded: LoadedWorkload, run: BackendRun) -> None:
    if loaded.observe is None:
        return
    try:
        run.observed = fingerprint(loaded.observe())
    except Exception as exc:
        run.observe_error = error_of(exc)


def _load(spec: WorkloadSpec, objects: LoadedWorkload | None) -> LoadedWorkload:
    return objects if objects is not None else load_fresh(spec)


def _run_legacy(loaded: LoadedWorkload, timeout: float) -> BackendRun:
    task_queue: Any = loaded.task_queue
    if isinstance(task_queue, AdoptedQueue):
        # The app's run/handlers, in process; its own consumer threads are not involved.
        task_queue = AdoptedRun(task_queue)
    original = dict(task_queue.handlers)
    sink, ids = MemorySink(), LegacyTaskIds(task_queue)
    wrap_handlers(task_queue, sink, ids)
    queue = RecordingQueue(task_queue, task_queue, ids, max_wait=timeout)
    result = BackendRun("legacy")
    started = time.monotonic()
    try:
        _drive(loaded, queue, result, timeout)
        wait_for_calls(queue.calls, time.monotonic() + timeout, poll=False)
    finally:
        task_queue.stop(timeout=_STOP_TIMEOUT)
        _restore(task_queue, original)
    result.seconds = time.monotonic() - started
    attach_attempts(queue.calls, sink.records)
    result.calls = queue.calls
    _observe(loaded, result)
    return result


def _run_celery(
    spec: WorkloadSpec,
    objects: LoadedWorkload | None,
    parity: ParityRun,
    worker: WorkerProcess,
    worker_started: float,
    timeout: float,
    celery_ids: list[str],
) -> BackendRun:
    loaded = _load(spec, objects)
    task_queue = loaded.task_queue
    original = dict(task_queue.handlers)
    # The caller's task definitions match the worker's (instant retries); they never run here.
    wrap_handlers(task_queue, lambda record: None, CeleryTaskIds())
    result = BackendRun("celery")
    try:
        worker.wait_ready(max(0.0, WORKER_READY_TIMEOUT - (time.monotonic() - worker_started)))
    except WorkerStartError as exc:
        _restore(task_queue, original)
        raise HarnessError(f"the parity Celery worker did not start: {exc}") from exc
    result.info["worker_start_seconds"] = round(time.monotonic() - worker_started, 3)
    result.info["redis"] = redact_url(parity.redis_url)
    result.info["key_prefix"] = parity.key_prefix
    app = parity_app(parity)
    compat = CompatQueue(
        task_queue,
        app,
        rollout=Rollout.all_celery(),
        strict=False,
        namespace=parity.key_prefix.rstrip(":"),
    )
    queue = RecordingQueue(compat, task_queue, max_wait=timeout)
    started = time.monotonic()
    try:
        _drive(loaded, queue, result, timeout)
        celery_ids.extend(c.task_id for c in queue.calls if c.task_id)
        for call in queue.calls:
            error = call.enqueue_error or {}
            if error.get("type") == "BrokerUnavailable":
                raise HarnessError(f"Redis stopped answering during the Celery run: {error}")
        deadline = time.monotonic() + timeout
        client = redis.Redis.from_url(parity.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            _await_attempts(client, parity.attempts_key, len(celery_ids), deadline)
            wait_for_calls(queue.calls, deadline, poll=True)
            attach_attempts(queue.calls, read_attempts(client, parity.attempts_key))
        except redis.RedisError as exc:
            raise HarnessError(
                f"could not read the worker's records from {redact_url(parity.redis_url)}: {exc}"
            ) from exc
        finally:
            client.close()
    finally:
        compat.close()
        # Idle connections would keep the embedded server's handler threads waiting at exit.
        client_of_compat = getattr(compat, "client", None)
        if client_of_compat is not None:
            client_of_compat.close()
        app.close()
        _restore(task_queue, original)
    result.seconds = time.monotonic() - started
    result.calls = queue.calls
    _observe(loaded, result)
    return result


def _await_attempts(client: redis.Redis, key: str, count: int, deadline: float) -> None:
    """Wait until the worker recorded at least ``count`` attempts (or the deadline).

    One LLEN per tick instead of polling every task's status while the worker is busy: on
    the embedded server, polling load slows the worker itself. Stragglers (retries) are then
    waited for one by one.
    """
    while time.monotonic() < deadline and int(client.llen(key)) < count:
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))


def _restore(task_queue: Any, original: dict[str, Any]) -> None:
    """Put the caller's own handlers back (the in-process form wraps the caller's queue)."""
    for name, handler in original.items():
        task_queue.add_handler(
            name, handler.func, max_retries=handler.max_retries, retry_delay=handler.retry_delay
        )


def _cleanup(parity: ParityRun, celery_ids: list[str]) -> None:
    """Delete every key this run made (its prefix, and the sent markers of its tasks)."""
    client = redis.Redis.from_url(parity.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        keys = list(client.scan_iter(match=f"{parity.key_prefix}*", count=1000))
        keys += [sent_key(task_id) for task_id in celery_ids]
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    except redis.RedisError:
        pass  # best effort: the embedded server is going away anyway; keys expire
    finally:
        client.close()
