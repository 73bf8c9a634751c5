"""报表接口：工厂函数拿到单例管理器，另有一个类通过构造函数注入。"""
from fastapi import APIRouter, BackgroundTasks

from kb_api.core.jobs import JobManager
from kb_api.deps import get_manager
from kb_api.services.indexer import generate_report

router = APIRouter(prefix="/reports")


class ReportService:
    def __init__(self, jobs: JobManager) -> None:
        self.jobs = jobs

    async def request(self, report_id: int) -> str:
        return await self.jobs.submit("index", {"doc_id": str(report_id), "text": ""})  # SITE: manager_enqueue


@router.post("/{report_id}")
async def make_report(report_id: int, background_tasks: BackgroundTasks):
    background_tasks.add_task(generate_report, report_id, fmt="xlsx")  # SITE: background_task
    await get_manager().submit("embed", {"doc_id": str(report_id)})  # SITE: manager_enqueue
    return {"ok": True}


@router.post("/{report_id}/svc")
async def via_service(report_id: int):
    svc = ReportService(get_manager())
    return {"job": await svc.request(report_id)}
