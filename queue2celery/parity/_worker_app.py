"""The Celery app the parity worker process runs: ``celery -A queue2celery.parity._worker_app:app``.

The worker loads the workload afresh in its own process, wraps its handlers with recorders
that write to Redis, and registers them as Celery tasks. Its configuration travels in the
``Q2C_PARITY_WORKER`` environment variable (never on disk: the Redis URL may hold a password).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from celery import Celery

from ..celery_tasks import make_celery_app, register_handlers
from ._recorder import CeleryTaskIds, RedisSink, wrap_handlers
from ._workload import WorkloadSpec, load_fresh

__all__ = [
    "CELERY_URL_VARS",
    "ENV_VAR",
    "WORKER_APP",
    "ParityRun",
    "build_worker_app",
    "celery_url_vars_masked",
    "parity_app",
    "worker_environment",
]

ENV_VAR = "Q2C_PARITY_WORKER"
WORKER_APP = f"{__name__}:app"
# Celery reads these before its configuration (celery.app.utils.Settings): set in the shell
# for the application, they would send parity's messages to the application's Redis.
CELERY_URL_VARS = (
    "CELERY_BROKER_URL",
    "CELERY_BROKER_READ_URL",
    "CELERY_BROKER_WRITE_URL",
    "CELERY_RESULT_BACKEND",
)


@dataclass(frozen=True)
class ParityRun:
    """The names one parity run uses on Redis: its own queue and its own key prefix."""

    run_id: str
    redis_url: str

    @property
    def queue(self) -> str:
        return f"q2c-parity-{self.run_id}"

    @property
    def key_prefix(self) -> str:
        return f"q2c-parity-{self.run_id}:"

    @property
    def attempts_key(self) -> str:
        return f"{self.key_prefix}attempts"


def parity_app(run: ParityRun) -> Celery:
    """The app both sides use: a queue only this run's worker consumes, keys under its prefix."""
    prefix = {"global_keyprefix": run.key_prefix}
    return make_celery_app(
        run.queue,
        broker_url=run.redis_url,
        result_backend=run.redis_url,
        task_default_queue=run.queue,
        broker_transport_options=prefix,
        result_backend_transport_options=prefix,
        # A parity run reads every result once, right away.
        result_expires=3600,
        # Neither changes what a task does or returns; both cost Redis writes per task, and on
        # the embedded server those slow a 1,000-put run by seconds.
        task_track_started=False,
        result_extended=False,
    )


def build_worker_app(config: dict[str, Any]) -> Celery:
    """Load the workload fresh, record its handlers into Redis, register them as tasks."""
    import redis

    run = ParityRun(config["run_id"], config["redis_url"])
    loaded = load_fresh(WorkloadSpec.from_dict(config["workload"]))
    client = redis.Redis.from_url(run.redis_url, socket_timeout=5, socket_connect_timeout=5)
    wrap_handlers(loaded.task_queue, RedisSink(client, run.attempts_key), CeleryTaskIds())
    app = parity_app(run)
    register_handlers(app, loaded.task_queue)
    return app


def worker_environment(
    run: ParityRun, spec: WorkloadSpec, python_path: list[str]
) -> dict[str, str]:
    config = {"run_id": run.run_id, "redis_url": run.redis_url, "workload": spec.to_dict()}
    existing = os.environ.get("PYTHONPATH")
    paths = [p for p in python_path if p] + ([existing] if existing else [])
    # Empty counts as unset for Celery, and start_worker only adds to the inherited environment.
    blanked = {name: "" for name in CELERY_URL_VARS}
    return {**blanked, ENV_VAR: json.dumps(config), "PYTHONPATH": os.pathsep.join(paths)}


@contextmanager
def celery_url_vars_masked() -> Iterator[None]:
    """While the caller's side of a run talks to Celery, hide the CELERY_*_URL variables."""
    saved = {name: os.environ[name] for name in CELERY_URL_VARS if os.environ.get(name)}
    for name in saved:
        os.environ[name] = ""
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ[name] = value


def __getattr__(name: str) -> Any:
    # Built on first access, so importing this module (tests, mypy) needs no configuration.
    if name == "app":
        raw = os.environ.get(ENV_VAR)
        if not raw:
            raise AttributeError(f"{ENV_VAR} is not set: this module is the parity worker's app")
        app = build_worker_app(json.loads(raw))
        globals()["app"] = app
        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
