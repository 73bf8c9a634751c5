"""Issue 8.1: a worker killed with SIGKILL mid-task loses nothing.

``acks_late`` + ``reject_on_worker_lost`` (make_celery_app's defaults) mean a message is
acked only after its task ran: a killed solo worker's message stays in kombu's unacked
hash and comes back after the visibility timeout; a killed prefork child's message is
re-queued by the surviving parent at once. A task that had already done its side effect
when it was killed runs again, so duplicates are bounded by the number of processes killed.

The kills land while a task runs (a ``hold-`` item keeps its process busy until killed).
A SIGKILL that lands in the instant between kombu's BRPOP and its unacked bookkeeping
loses that one message: a kombu limitation, measured and described in RELIABILITY.md,
not something these tests can assert away.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from _reliability import cleanup_keys, load_recording_app, report, run_counts

from queue2celery.celery_tasks import WorkerProcess

pytestmark = [pytest.mark.reliability, pytest.mark.redis, pytest.mark.worker]

TASKS = 1000
VISIBILITY_TIMEOUT = 5.0
# Generous bounds for a loaded 2-core machine; a healthy run takes a fraction of them.
PROGRESS_TIMEOUT = 60.0
DRAIN_TIMEOUT = 120.0


def _children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(p) for p in text)
    return found


class _Run:
    """One recording app on the real Redis, its 1,000 messages, and its bookkeeping."""

    def __init__(self, module: Any, client: redis.Redis, name: str) -> None:
        self.module = module
        self.client = client
        self.name = name
        self.unacked_key = f"{name}:unacked"

    def publish(self, hold: set[int]) -> set[str]:
        """Send the 1,000 messages; returns the expected item names."""
        items = [f"hold-{i}" if i in hold else f"item-{i}" for i in range(TASKS)]
        task = self.module.record
        with self.module.app.producer_or_acquire() as producer:
            for item in items:
                task.apply_async(args=[item], producer=producer)
        return set(items)

    def held_by(self, item: str) -> int | None:
        """The pid running ``item``'s first (held) run, once it started."""
        pid = self.client.get(f"{self.name}:held:{item}")
        return int(pid) if pid is not None else None

    def distinct(self) -> int:
        return len(run_counts(self.client, f"{self.name}:runs"))

    def recorded(self) -> int:
        return int(self.client.llen(f"{self.name}:runs"))

    def state(self, *workers: WorkerProcess) -> str:
        logs = "\n".join(f"--- {w.nodename} log tail:\n{w.log()[-3000:]}" for w in workers)
        return (
            f"distinct={self.distinct()} recorded={self.recorded()} "
            f"queued={self.client.llen(self.name)} unacked={self.client.hlen(self.unacked_key)}"
            f"\n{logs}"
        )

    def settled(self) -> bool:
        """Everything ran and nothing is waiting: queue empty, no unacked message left."""
        return (
            self.distinct() == TASKS
            and self.client.llen(self.name) == 0
            and self.client.hlen(self.unacked_key) == 0
        )


@pytest.fixture
def run(real_redis: str, write_module: Callable[[str, str], Path], unique_name: str) -> Any:
    module = load_recording_app(
        write_module, unique_name, broker_url=real_redis, visibility_timeout=VISIBILITY_TIMEOUT
    )
    client = redis.Redis.from_url(real_redis)
    yield _Run(module, client, unique_name)
    cleanup_keys(client, unique_name)
    module.app.close()
    client.close()


def _start(
    worker_factory: Callable[..., WorkerProcess], run: _Run, tmp_path: Path, **kwargs: Any
) -> WorkerProcess:
    return worker_factory(
        f"{run.module.__name__}:app",
        cwd=tmp_path,
        queues=[run.name],
        log_path=tmp_path / f"worker-{time.monotonic_ns()}.log",
        **kwargs,
    )


def _wait_held_by(
    run: _Run, item: str, worker: WorkerProcess, wait_until: Callable[..., Any]
) -> None:
    wait_until(
        lambda: run.held_by(item) == worker.pid,
        PROGRESS_TIMEOUT,
        what=f"{item} running in the worker",
        detail=lambda: run.state(worker),
    )


def test_solo_worker_killed_twice_mid_task_loses_nothing(
    run: _Run,
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> None:
    started = time.monotonic()
    expected = run.publish(hold={300, 650})
    kills = 0
    for held in ("hold-300", "hold-650"):
        worker = _start(worker_factory, run, tmp_path)
        _wait_held_by(run, held, worker, wait_until)
        worker.kill()  # SIGKILL to the whole process group
        kills += 1
        assert not worker.alive()
    killed_at = time.monotonic()
    last = _start(worker_factory, run, tmp_path)
    wait_until(
        run.settled,
        DRAIN_TIMEOUT,
        interval=0.2,
        what="all 1,000 runs and no unacked message",
        detail=lambda: run.state(last),
    )

    counts = run_counts(run.client, f"{run.name}:runs")
    duplicates = sum(n - 1 for n in counts.values())
    assert set(counts) == expected
    assert duplicates <= kills, f"{duplicates} duplicates after {kills} kills: {counts}"
    report(
        {
            "test": "worker_killed_solo",
            "tasks": TASKS,
            "kills": kills,
            "duplicates": duplicates,
            "lost": 0,
            "visibility_timeout_s": VISIBILITY_TIMEOUT,
            "seconds_after_last_kill": round(time.monotonic() - killed_at, 1),
            "seconds_total": round(time.monotonic() - started, 1),
        }
    )


def test_prefork_child_killed_mid_task_is_replaced_and_loses_nothing(
    run: _Run,
    worker_factory: Callable[..., WorkerProcess],
    tmp_path: Path,
    wait_until: Callable[..., Any],
) -> None:
    started = time.monotonic()
    expected = run.publish(hold={300})
    worker = _start(worker_factory, run, tmp_path, pool="prefork", concurrency=2)
    wait_until(lambda: run.held_by("hold-300") is not None, PROGRESS_TIMEOUT, what="hold-300")
    victim = run.held_by("hold-300")
    assert victim in _children(worker.pid), "the held task runs in a pool child"
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    kills = 1
    wait_until(
        run.settled,
        DRAIN_TIMEOUT,
        interval=0.2,
        what="all 1,000 runs and no unacked message",
        detail=lambda: run.state(worker),
    )

    assert worker.alive(), "the parent must survive a child's death"
    children = _children(worker.pid)
    assert victim not in children and len(children) == 2, children
    counts = run_counts(run.client, f"{run.name}:runs")
    duplicates = sum(n - 1 for n in counts.values())
    assert set(counts) == expected
    assert duplicates <= kills, f"{duplicates} duplicates after {kills} kills: {counts}"
    report(
        {
            "test": "worker_killed_prefork_child",
            "tasks": TASKS,
            "kills": kills,
            "duplicates": duplicates,
            "lost": 0,
            "seconds_after_kill": round(time.monotonic() - killed_at, 1),
            "seconds_total": round(time.monotonic() - started, 1),
        }
    )
