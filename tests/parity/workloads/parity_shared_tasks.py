"""Application code a workload imports (not a workload itself): the queue and its state."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
PROGRESS: dict[str, str] = {}


@task_queue.handler
def process_video_upload(video_id):
    PROGRESS[video_id] = "done"
    return video_id
