"""Drift planted inside a dataclass field: a tuple that arrives as a list."""

from adopted_app import Task, manager

from queue2celery.legacy_queue import adopt

task_queue = adopt(manager.queue, run=manager.execute, types=[Task])


def workload(q):
    q.put((2, Task("resize", {"w": 10}, ("hd", "sd"), 2)))
