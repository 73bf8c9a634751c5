"""依赖注入。"""
from functools import lru_cache

from fastapi import Request

from kb_api.core.jobs import JobManager


def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


@lru_cache
def get_manager() -> JobManager:
    return JobManager()
