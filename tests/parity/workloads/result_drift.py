"""A handler returning a tuple: the caller gets a list back from Celery's result backend."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()


@task_queue.handler
def measure(data):
    return {"size": (data["w"], data["h"])}


def workload(q):
    q.put({"w": 640, "h": 480})
