"""What the workers say: who answers, which tasks they know, which queues they consume.

Only the first broadcast (ping) waits its full timeout; the later ones go to the workers that
answered and return as soon as each has replied.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from celery import Celery
from kombu import Queue

from ._check import Check

__all__ = [
    "WorkerView",
    "app_task_names",
    "check_queues",
    "check_registered",
    "check_workers",
    "routed_queues",
    "start_hint",
]

_MAX_LISTED = 15


def start_hint(app_spec: str, queues: Sequence[str] = ()) -> str:
    where = f" -Q {','.join(queues)}" if queues else ""
    return (
        f"start one: queue2celery worker -A {app_spec}{where} "
        f"(or celery -A {app_spec} worker{where}; add --pool=solo on Windows)"
    )


def listed(names: Iterable[str]) -> str:
    names = list(names)
    if not names:
        return "(none)"
    shown = ", ".join(names[:_MAX_LISTED])
    if len(names) > _MAX_LISTED:
        shown += f", ... and {len(names) - _MAX_LISTED} more"
    return shown


def app_task_names(app: Celery) -> list[str]:
    """The tasks the app knows, without Celery's built-ins."""
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def routed_queues(app: Celery) -> dict[str, list[str]]:
    """Queue name -> the app's tasks routed there, resolved by Celery's own router."""
    default = str(app.conf.task_default_queue)
    queues: dict[str, list[str]] = {default: []}
    for name in app_task_names(app):
        task = app.tasks[name]
        options = {k: v for k, v in task._get_exec_options().items() if v is not None}
        try:
            route = app.amqp.router.route(options, name, (), {}, task)
        except Exception:  # a router that needs real args: assume the default
            route = {}
        queue = route.get("queue", default)
        queue_name = queue.name if isinstance(queue, Queue) else str(queue)
        queues.setdefault(queue_name, []).append(name)
    return queues


class WorkerView:
    """The replies of the workers that answered the ping."""

    def __init__(self, app: Celery, nodes: Sequence[str], timeout: float) -> None:
        self.nodes = list(nodes)
        self._inspect = app.control.inspect(
            destination=self.nodes, timeout=timeout, limit=len(self.nodes)
        )

    def registered(self) -> dict[str, list[str]]:
        replies: Mapping[str, Any] = self._inspect.registered() or {}
        # Names may carry "[rate_limit=...]" suffixes when asked for; keep the name only.
        return {node: [str(n).split(" ", 1)[0] for n in names] for node, names in replies.items()}

    def active_queues(self) -> dict[str, list[str]]:
        replies: Mapping[str, Any] = self._inspect.active_queues() or {}
        return {node: [str(q.get("name")) for q in queues] for node, queues in replies.items()}

    def pools(self) -> dict[str, str]:
        replies: Mapping[str, Any] = self._inspect.stats() or {}
        return {
            node: str((stats.get("pool") or {}).get("implementation", "?"))
            for node, stats in replies.items()
        }


def _broadcast_failed(name: str, exc: BaseException) -> Check:
    return Check(
        name,
        "FAIL",
        f"the broadcast to the workers failed: {type(exc).__name__}",
        "check that the broker stays up (run doctor again; see the broker check)",
    )


def check_workers(app: Celery, app_spec: str, timeout: float) -> tuple[Check, list[str]]:
    try:
        replies = app.control.ping(timeout=timeout) or []
    except Exception as exc:
        return _broadcast_failed("workers", exc), []
    nodes = sorted({node for reply in replies for node in reply})
    if not nodes:
        return (
            Check(
                "workers",
                "FAIL",
                f"no worker answered a ping within {timeout:g}s: every task stays PENDING",
                start_hint(app_spec),
            ),
            [],
        )
    return Check("workers", "PASS", f"{len(nodes)} answered: {listed(nodes)}"), nodes


def check_registered(app: Celery, view: WorkerView | None) -> Check:
    wanted = app_task_names(app)
    if view is None:
        return Check("registered", "SKIP", "not checked: no worker answered")
    if not wanted:
        return Check(
            "registered",
            "WARN",
            "the app knows no tasks: is the module that defines them imported?",
            "list it in Celery(include=[...]) or the imports setting",
        )
    try:
        replies = view.registered()
    except Exception as exc:  # the broker went away mid-run
        return _broadcast_failed("registered", exc)
    have = sorted({name for names in replies.values() for name in names})
    missing = [name for name in wanted if name not in have]
    theirs = [name for name in have if not name.startswith("celery.")]
    if missing:
        return Check(
            "registered",
            "FAIL",
            f"not registered on any worker: {listed(missing)} (tasks sent under these names "
            f"stay PENDING); the workers have: {listed(theirs)}",
            "start the workers on the same app (-A) so they import the module defining these "
            "tasks, and check that the names match (the name=... of each task)",
        )
    return Check("registered", "PASS", f"all {len(wanted)} tasks are known: {listed(wanted)}")


def check_queues(
    app_spec: str, queues: Mapping[str, Sequence[str]], view: WorkerView | None
) -> tuple[Check, set[str]]:
    if view is None:
        return Check("queues", "SKIP", "not checked: no worker answered"), set()
    try:
        active = view.active_queues()
    except Exception as exc:
        return _broadcast_failed("queues", exc), set()
    consumers: dict[str, list[str]] = {}
    for node, names in active.items():
        for name in names:
            consumers.setdefault(name, []).append(node)
    orphans = [name for name in queues if name not in consumers]
    if orphans:
        where = "; ".join(f"{q!r} (tasks: {listed(queues[q])})" for q in orphans)
        return (
            Check(
                "queues",
                "FAIL",
                f"no worker consumes {where}: tasks routed there stay PENDING",
                start_hint(app_spec, orphans),
            ),
            set(consumers),
        )
    shown = ", ".join(f"{q!r} ({len(consumers[q])} worker(s))" for q in queues)
    return Check("queues", "PASS", f"every queue has a consumer: {shown}"), set(consumers)
