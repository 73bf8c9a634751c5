"""A handler that needs configuration the caller set up in its own process memory."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
CONFIG: dict[str, str] = {}


@task_queue.handler
def send_mail(address):
    if "smtp_host" not in CONFIG:
        raise RuntimeError("smtp_host is not configured")
    return None


def workload(q):
    CONFIG["smtp_host"] = "mail.example.com"
    q.put("user@example.com")
