"""rewrite 的目标任务（pyproject.toml 的 [tool.queue2celery] 表指向这里）。

process_task 做的事和 worker_loop 一样：按 job["type"] 找 handler，payload 展开成参数。
"""

from __future__ import annotations

from typing import Any

from fastapi_app.services import email
from fastapi_app.tasks.celery_app import celery_app
from fastapi_app.tasks.handlers import HANDLERS


# shared=False: the tasks belong to this app only, not to every Celery app in the process.
@celery_app.task(name="process_task", shared=False)
def process_task(job: dict[str, Any]) -> Any:
    """task_queue.put(job) 的替身。"""
    return HANDLERS[job["type"]](**job["payload"])


@celery_app.task(name="send_email", shared=False)
def send_email_task(to: str, subject: str, body: str = "") -> None:
    """原来用 BackgroundTasks 发的欢迎邮件。"""
    email.send_email(to, subject, body=body)
