"""Tasks that succeed in memory and fail on Celery: configuration only the caller's process
has, and a result JSON cannot store."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue(route=lambda item: "send_mail" if isinstance(item, str) else "tag_set")
CONFIG: dict[str, str] = {}


@task_queue.handler
def send_mail(address):
    if "smtp_host" not in CONFIG:
        raise RuntimeError("smtp_host is not configured")
    return None


@task_queue.handler
def tag_set(item):
    return set(item["tags"])


def workload(q):
    CONFIG["smtp_host"] = "mail.example.com"
    q.put("user@example.com")
    q.put({"tags": ["a", "b"]})
