"""The status dict lives in an application module the workload imports: each backend must
still start from a fresh copy of it, or the legacy run's writes would hide the difference."""

from parity_shared_tasks import PROGRESS, task_queue

__all__ = ["task_queue"]


def workload(q):
    q.put("v1")


def observe():
    return PROGRESS
