"""A set payload: fine in memory, refused at put on Celery (JSON has no sets)."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()


@task_queue.handler
def tag_files(data):
    return len(data["tags"])


def workload(q):
    q.put({"tags": ["a", "b"]})
    q.put({"tags": {"a", "b"}})
