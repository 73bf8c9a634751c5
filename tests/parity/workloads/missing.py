"""A handler that waits for an event only the caller's process can set: it never finishes
on Celery (within the harness timeout)."""

import threading

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
RELEASED = threading.Event()


@task_queue.handler
def wait_for_release(job):
    if not RELEASED.wait(timeout=30):
        raise TimeoutError("never released")
    return job


def workload(q):
    q.put("job-1")
    RELEASED.set()
