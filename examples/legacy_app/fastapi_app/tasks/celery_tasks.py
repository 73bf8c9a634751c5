"""迁移后的 Celery 任务（the "after"）。

Start a worker (it picks --pool=solo on Windows):
    queue2celery worker -A fastapi_app.tasks.celery_tasks:celery_app --loglevel=INFO
Check the set-up:
    queue2celery doctor -A fastapi_app.tasks.celery_tasks:celery_app
"""

from __future__ import annotations

from typing import Any

from celery import Task

from fastapi_app.services import email
from fastapi_app.tasks.queue import task_queue
from queue2celery.celery_tasks import make_celery_app, register_handlers

# Broker 和结果后端来自环境变量 CELERY_BROKER_URL / CELERY_RESULT_BACKEND / REDIS_URL
celery_app = make_celery_app("fastapi_app")

# compat 阶段：每个 handler 注册成同名 Celery 任务，CompatQueue.put 发的就是它们
register_handlers(celery_app, task_queue)


# shared=False: the tasks belong to this app only, not to every Celery app in the process.
@celery_app.task(name="process_task", bind=True, shared=False)
def process_task(self: Task, item: dict[str, Any]) -> Any:
    """task_queue.put(item) 的替身：按 item 选 handler，沿用它的重试次数和间隔。"""
    handler = task_queue.handler_for(item)
    try:
        return handler.func(item)
    except Exception as exc:
        raise self.retry(
            exc=exc, countdown=handler.retry_delay, max_retries=handler.max_retries
        ) from exc


@celery_app.task(name="send_email", shared=False)
def send_email_task(to: str, subject: str, body: str = "") -> None:
    """原来用 BackgroundTasks 发的欢迎邮件。"""
    email.send_email(to, subject, body=body)
