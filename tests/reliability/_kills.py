"""Random-moment SIGKILLs of real workers, counted by item: the engine of the kill tests.

Shared by ``measure_kill_random.py`` (the full run RELIABILITY.md quotes) and
``test_kill_random.py`` (a smaller run in CI). A recording app is written to a temporary
directory; each task appends its item to a Redis list, so runs are counted by id,
duplicates included. Workers are started, left to work for a random time, and killed
with SIGKILL: the whole process group (solo or prefork), or one prefork child.
"""

from __future__ import annotations

import importlib
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from queue2celery.celery_tasks import WorkerProcess, start_worker

KILL_APP = """
import os
import time

import redis

from queue2celery.celery_tasks import make_celery_app

NAME = {name!r}
URL = {url!r}

app = make_celery_app(
    NAME,
    broker_url=URL,
    result_backend=URL,
    task_default_queue=NAME,
    task_ignore_result=True,
    task_track_started=False,
    worker_hijack_root_logger=False,
    broker_transport_options={{
        # Only the key names change (the shared Redis must not mix runs); every timing
        # is the default unless the run says otherwise.
        "unacked_key": NAME + ":unacked",
        "unacked_index_key": NAME + ":unacked_index",
        "unacked_mutex_key": NAME + ":unacked_mutex",
        **{options!r},
    }},
    **{settings!r},
)
_record = redis.Redis.from_url(URL, socket_timeout=5, socket_connect_timeout=5)


@app.task(name=NAME + ".record", shared=False)
def record(item, seconds=None):
    _record.rpush(NAME + ":runs", item)
    if item.startswith("hold-") and _record.set(NAME + ":held:" + item, os.getpid(), nx=True):
        # First run of a "hold" item: say which process runs it, then stay busy until
        # the test kills this process (bounded, in case it never does).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep({task_seconds!r} if seconds is None else seconds)
"""


@dataclass
class KillRun:
    """Figures of one run: kills by kind, runs counted by item."""

    pool: str
    tasks: int
    kills: Counter[str] = field(default_factory=Counter)
    kills_with_work_left: int = 0
    processes_killed: int = 0
    lost: int = 0
    duplicates: int = 0
    drain_seconds: float = 0.0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "tasks": self.tasks,
            "kills": sum(self.kills.values()),
            "kills_by_kind": dict(self.kills),
            "kills_with_work_left": self.kills_with_work_left,
            "processes_killed": self.processes_killed,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "drain_seconds": round(self.drain_seconds, 1),
            "seconds": round(self.seconds, 1),
        }


def children(pid: int) -> list[int]:
    """Direct child pids of ``pid`` (Linux /proc)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            found.extend(int(p) for p in (task / "children").read_text().split())
    except OSError:
        pass
    return found


def write_app(
    directory: Path,
    url: str,
    *,
    task_seconds: float,
    options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> tuple[str, Any]:
    """Write and import a recording app; returns (its unique name, the module)."""
    name = f"q2ckill-{uuid.uuid4().hex[:10]}"
    module_name = name.replace("-", "_") + "_app"
    (directory / f"{module_name}.py").write_text(
        KILL_APP.format(
            name=name,
            url=url,
            options=options or {},
            settings=settings or {},
            task_seconds=task_seconds,
        ),
        encoding="utf-8",
    )
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    return name, importlib.import_module(module_name)


def run_kills(
    url: str,
    directory: Path,
    *,
    pool: str,
    tasks: int,
    kills: int,
    rng: random.Random,
    task_seconds: float = 0.01,
    max_alive: float = 1.2,
    options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    drain_timeout: float = 120.0,
) -> KillRun:
    """Publish ``tasks``, then start-and-SIGKILL workers ``kills`` times; count runs.

    Solo: every kill takes the whole process group. Prefork (concurrency 2): each kill is,
    at random, the whole group or one child (the parent then stays and forks a new one).
    After the last kill one worker drains; the run ends when every item ran and the
    queue, the unacked hash and the leases are empty, or after ``drain_timeout``.
    """
    started = time.monotonic()
    name, module = write_app(
        directory, url, task_seconds=task_seconds, options=options, settings=settings
    )
    client = redis.Redis.from_url(url, socket_timeout=10)
    result = KillRun(pool=pool, tasks=tasks)
    workers: list[WorkerProcess] = []
    runs_key = f"{name}:runs"

    def start() -> WorkerProcess:
        extra: dict[str, Any] = {"concurrency": 2} if pool == "prefork" else {}
        worker = start_worker(
            f"{module.__name__}:app", cwd=directory, queues=[name], pool=pool, **extra
        )
        workers.append(worker)
        worker.wait_ready(60)
        return worker

    try:
        with module.app.producer_or_acquire() as producer:
            for i in range(tasks):
                module.record.apply_async(args=[f"item-{i}"], producer=producer)
        worker: WorkerProcess | None = None
        while sum(result.kills.values()) < kills:
            if worker is None or not worker.alive():
                worker = start()
            time.sleep(rng.uniform(0.05, max_alive))
            if client.llen(name) > 0:
                result.kills_with_work_left += 1
            kids = children(worker.pid) if pool == "prefork" else []
            if kids and rng.random() < 0.5:
                os.kill(rng.choice(kids), signal.SIGKILL)
                result.kills["child"] += 1
                result.processes_killed += 1
                continue
            result.processes_killed += 1 + len(kids)
            worker.kill()
            result.kills["group"] += 1
        if worker is None or not worker.alive():
            worker = start()
        drain_started = time.monotonic()
        deadline = drain_started + drain_timeout
        while time.monotonic() < deadline:
            distinct = len(set(client.lrange(runs_key, 0, -1)))
            if distinct >= tasks and client.llen(name) == 0 and client.hlen(f"{name}:unacked") == 0:
                break
            time.sleep(0.5)
        result.drain_seconds = time.monotonic() - drain_started
        time.sleep(1.0)  # a late duplicate would show up now
        counts = Counter(client.lrange(runs_key, 0, -1))
        result.lost = tasks - len(counts)
        result.duplicates = sum(n - 1 for n in counts.values())
        result.seconds = time.monotonic() - started
        return result
    finally:
        for w in workers:
            w.stop()
        module.app.close()
        keys = list(client.scan_iter(match=f"{name}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
