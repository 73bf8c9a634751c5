from fastapi import APIRouter

from reports.aps import scheduler

router = APIRouter(prefix="/jobs")


@router.post("/{job_id}/pause")
def pause_job(job_id: str):
    scheduler.pause_job(job_id)  # 运营可以在后台暂停任务
    return {"ok": True}


@router.post("/{job_id}/resume")
def resume_job(job_id: str):
    scheduler.resume_job(job_id)
    return {"ok": True}
