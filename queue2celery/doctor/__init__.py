"""``queue2celery doctor``: the classic Celery-on-Redis failures, checked in order.

Each check is PASS, WARN, FAIL or SKIP (could not run), with the fix in one line. Every
network wait is bounded (2 s by default). Messages never show a Redis password. One group of
checks per module: ``_connect`` (broker, backend), ``_settings`` (Redis and Celery settings),
``_managed`` (cluster mode, Lua refused), ``_workers`` (workers, task names, queues); ``_run``
puts them in order.

    checks = run_doctor("fastapi_app.celery_app:app")
    if any_failed(checks): ...

    where = locate("fastapi_app.celery_app:app", task_id)   # doctor --task ID
    where.state, where.detail
"""

from __future__ import annotations

from ._check import STATUSES, Check, Status
from ._run import CHECK_NAMES, any_failed, load_app, report_json, run_doctor
from ._task import ACTION_STATES, locate

__all__ = [
    "ACTION_STATES",
    "CHECK_NAMES",
    "STATUSES",
    "Check",
    "Status",
    "any_failed",
    "load_app",
    "locate",
    "report_json",
    "run_doctor",
]
