"""The classic: a status dict written by the handler and read by the caller."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
PROGRESS: dict[str, str] = {}


@task_queue.handler
def process_video_upload(video_id):
    PROGRESS[video_id] = "done"
    return video_id


def workload(q):
    q.put("v1")
    q.put("v2")


def observe():
    return PROGRESS
