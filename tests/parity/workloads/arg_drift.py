"""Payloads JSON changes on the way: a tuple becomes a list, int keys become str keys."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()


@task_queue.handler
def process_task(data):
    # Returns nothing, so only what the handler received can differ.
    return None


def workload(q):
    q.put({"name": "a", "coords": (1, 2)})
    q.put({"scores": {1: "gold", 2: "silver"}})
    q.put({"name": "c", "coords": [3, 4]})
