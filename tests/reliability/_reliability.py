"""Helpers for the fault-injection tests (issue 8): a recording Celery app, bounded waits, figures.

The recording app is written into ``tmp_path`` (via ``write_module``) so a real worker
process imports it; every task appends its item to a Redis list, so runs can be counted
by id, duplicates included. An item named ``hold-...`` keeps its process busy on its first
run (after recording it, before the ack), so a test can kill a worker exactly mid-task.
Everything lives under one unique name (queue, keys, and the kombu ``unacked*`` keys),
because the real Redis is shared with other tests.
"""

from __future__ import annotations

import importlib
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import redis

RECORDING_APP = """
import os
import socket
import time

import redis

from queue2celery.celery_tasks import make_celery_app

NAME = {name!r}
BROKER_URL = {broker_url!r}
RECORD_URL = {record_url!r}
RUNS_KEY = NAME + ":runs"

app = make_celery_app(
    NAME,
    broker_url=BROKER_URL,
    result_backend=BROKER_URL,
    task_default_queue=NAME,
    # The task records its own run; results would only add Redis round trips.
    task_ignore_result=True,
    task_track_started=False,
    worker_hijack_root_logger=False,
)
app.conf.broker_transport_options = {{
    **app.conf.broker_transport_options,
    # Re-deliver a killed worker's unacked message after seconds, not an hour...
    "visibility_timeout": {visibility_timeout!r},
    # ...and look for such messages every second (kombu's default sweep is ~100 s).
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
    # A worker killed while it held the restore mutex must not block restores for 5 min.
    "unacked_mutex_expire": 10,
    # The shared Redis: never restore (or be restored by) another test's messages.
    "unacked_key": NAME + ":unacked",
    "unacked_index_key": NAME + ":unacked_index",
    "unacked_mutex_key": NAME + ":unacked_mutex",
}}

_record = redis.Redis.from_url(RECORD_URL, socket_timeout=5, socket_connect_timeout=5)


@app.task(name=NAME + ".record", shared=False)
def record(item):
    _record.rpush(RUNS_KEY, item)
    if str(item).startswith("hold-") and _record.set(NAME + ":held:" + item, os.getpid(), nx=True):
        # First run of a "hold" item: say which process runs it, then stay busy until
        # the test kills this process (bounded, in case it never does). The side effect
        # is done and the message is unacked: the case that makes a duplicate.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            time.sleep(0.05)
    time.sleep({task_seconds!r})
    return None
"""


def load_recording_app(
    write_module: Callable[[str, str], Path],
    name: str,
    *,
    broker_url: str,
    record_url: str | None = None,
    visibility_timeout: float = 5.0,
    task_seconds: float = 0.003,
) -> ModuleType:
    """Write the recording app module and import it; returns the module (``.app``, ``.record``)."""
    module_name = name.replace("-", "_") + "_app"
    write_module(
        module_name,
        RECORDING_APP.format(
            name=name,
            broker_url=broker_url,
            record_url=record_url or broker_url,
            visibility_timeout=visibility_timeout,
            task_seconds=task_seconds,
        ),
    )
    return importlib.import_module(module_name)


def run_counts(client: redis.Redis, key: str) -> Counter[str]:
    """How many times each item was recorded under ``key`` (a Redis list)."""
    return Counter(
        v.decode() if isinstance(v, bytes) else str(v) for v in client.lrange(key, 0, -1)
    )


def cleanup_keys(client: redis.Redis, name: str) -> None:
    """Delete every key this test created on the shared Redis (only ``name``-prefixed ones)."""
    keys = list(client.scan_iter(match=f"{name}*", count=1000))
    if keys:
        client.delete(*keys)


def report(figures: dict[str, Any]) -> None:
    """Print one line of figures (visible with ``pytest -s``; RELIABILITY.md quotes them)."""
    print("\nFIGURES " + json.dumps(figures, sort_keys=True))
    path = os.environ.get("Q2C_FIGURES_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(figures, sort_keys=True) + "\n")


COMPAT_APP = """
import collections
import os
import threading

import redis

from queue2celery.celery_tasks import make_celery_app, register_handlers
from queue2celery.legacy_queue import TaskQueue

NAME = {name!r}
BROKER_URL = {broker_url!r}
RECORD_URL = {record_url!r}
RUNS_KEY = NAME + ":runs"

app = make_celery_app(
    NAME,
    broker_url=BROKER_URL,
    result_backend=BROKER_URL,
    task_default_queue=NAME,
    task_ignore_result={ignore_result!r},
    worker_hijack_root_logger=False,
)
app.conf.broker_transport_options = {{
    **app.conf.broker_transport_options,
    "unacked_key": NAME + ":unacked",
    "unacked_index_key": NAME + ":unacked_index",
    "unacked_mutex_key": NAME + ":unacked_mutex",
}}

task_queue = TaskQueue(workers={legacy_workers!r})
_record = redis.Redis.from_url(RECORD_URL, socket_timeout=5, socket_connect_timeout=5)


# In the worker process, runs are recorded in Redis; in the producer's process (the legacy
# backend) they are counted in memory when COUNT_LEGACY_IN_PROCESS, so the two sides are
# told apart by where the count is.
IN_WORKER = os.environ.get("Q2C_IN_WORKER") == "1"
COUNT_LEGACY_IN_PROCESS = {count_legacy_in_process!r}
LEGACY_RUNS = collections.Counter()
_legacy_lock = threading.Lock()


@task_queue.handler(NAME + ".record")
def record(item):
    if COUNT_LEGACY_IN_PROCESS and not IN_WORKER:
        with _legacy_lock:
            LEGACY_RUNS[item["id"]] += 1
    else:
        _record.rpush(RUNS_KEY, item["id"])
    return item["id"]


# The worker imports this module: every handler becomes a Celery task of the same name.
tasks = register_handlers(app, task_queue)
"""


def load_compat_app(
    write_module: Callable[[str, str], Path],
    name: str,
    *,
    broker_url: str,
    record_url: str,
    ignore_result: bool = True,
    legacy_workers: int = 2,
    count_legacy_in_process: bool = False,
) -> ModuleType:
    """A legacy TaskQueue with one recording handler, its Celery app and tasks (``.tasks``)."""
    module_name = name.replace("-", "_") + "_compat_app"
    write_module(
        module_name,
        COMPAT_APP.format(
            name=name,
            broker_url=broker_url,
            record_url=record_url,
            ignore_result=ignore_result,
            legacy_workers=legacy_workers,
            count_legacy_in_process=count_legacy_in_process,
        ),
    )
    return importlib.import_module(module_name)
