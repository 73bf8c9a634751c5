"""The manager's own PriorityQueue, adopted: dataclass payloads, async bound methods, agreeing."""

from adopted_app import Task, manager

from queue2celery.legacy_queue import adopt

task_queue = adopt(manager.queue, run=manager.execute, types=[Task])


def workload(q):
    q.put((3, Task("resize", {"w": 10}, ["a"], 3)))
    q.put((1, Task("resize", {"w": 20}, [], 1)))
    q.put((9, None))  # the sentinel: kept in process, never run or sent
