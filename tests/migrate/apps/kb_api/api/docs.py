"""文档接口。"""
import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, BackgroundTasks, Depends, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from kb_api.core.events import send_event
from kb_api.core.jobs import JobManager
from kb_api.deps import get_jobs
from kb_api.services.indexer import embed_document, index_document, remove_upload

router = APIRouter(prefix="/docs")
log = logging.getLogger(__name__)
_pool = ThreadPoolExecutor(max_workers=4)
_background: set[asyncio.Task] = set()


@router.post("/{doc_id}")
async def create_doc(doc_id: str, request: Request):
    jobs: JobManager = request.app.state.jobs
    await jobs.submit("index", {"doc_id": doc_id, "text": "..."})  # 建索引  # SITE: manager_enqueue
    send_event("doc.created", doc_id=doc_id)  # SITE: manager_enqueue
    return {"ok": True}


@router.post("/{doc_id}/embed")
async def embed(doc_id: str, jobs: JobManager = Depends(get_jobs)):
    job_id = await jobs.submit("embed", {"doc_id": doc_id})  # SITE: manager_enqueue
    return {"job": job_id}


@router.post("/{doc_id}/reindex")
async def reindex(doc_id: str):
    # 发后即忘：保留强引用
    task = asyncio.create_task(embed_document(doc_id))  # SITE: create_task
    _background.add(task)
    task.add_done_callback(_background.discard)
    return {"ok": True}


@router.post("/{doc_id}/thread")
def reindex_thread(doc_id: str):
    threading.Thread(target=index_document, args=(doc_id, "text"), daemon=True).start()  # SITE: thread_start
    return {"ok": True}


@router.post("/{doc_id}/pool")
def reindex_pool(doc_id: str):
    _pool.submit(index_document, doc_id, "text", lang="en")  # SITE: executor_submit
    return {"ok": True}


@router.post("/upload")
async def upload(file: UploadFile, background_tasks: BackgroundTasks):
    path = f"/tmp/{file.filename}"
    background_tasks.add_task(remove_upload, path)  # 必须在本机执行  # SITE: background_task host-bound
    return {"path": path}


@router.get("/{doc_id}/export")
def export(doc_id: str):
    # Starlette 的 BackgroundTask：相似但不是遗留队列
    return StreamingResponse(iter([b"x"]), background=BackgroundTask(log.info, "exported"))


@router.post("/batch")
def batch(ids: list[str]):
    # 扇出并等待：不是发后即忘
    with ThreadPoolExecutor() as ex:
        sizes = list(ex.map(lambda i: index_document(i, "t"), ids))
    return {"sizes": sizes}


@router.post("/{doc_id}/both")
async def both(doc_id: str):
    t1 = asyncio.create_task(embed_document(doc_id))
    t2 = asyncio.create_task(embed_document(doc_id + "-2"))
    await asyncio.gather(t1, t2)  # 等待：不是发后即忘
    return {"ok": True}
