"""Celery 应用（迁移第 2 步新加的文件）。

Broker 和结果后端来自环境变量 CELERY_BROKER_URL / CELERY_RESULT_BACKEND / REDIS_URL。
Start a worker (it picks --pool=solo on Windows):
    queue2celery worker -A fastapi_app.tasks.celery_app:celery_app --loglevel=INFO
"""

from __future__ import annotations

from queue2celery.celery_tasks import make_celery_app

celery_app = make_celery_app("fastapi_app")
# worker 启动时导入这些模块：建队列的那一行把 handler 注册成 Celery 任务
celery_app.conf.imports = (
    "fastapi_app.tasks.worker",
    "fastapi_app.tasks.manager",
    "fastapi_app.tasks.celery_tasks",
)
