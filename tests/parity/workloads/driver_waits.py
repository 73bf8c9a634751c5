"""A driver that waits for an event only an in-process handler sets: it hangs on Celery, and
the harness must give up on it after the timeout instead of hanging too."""

import threading

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
DONE = threading.Event()


@task_queue.handler
def notify(item):
    DONE.set()
    return item


def workload(q):
    q.put("x").wait()  # fine on both: the harness caps a handle's wait
    DONE.wait(timeout=30)  # only a handler in this process sets it
