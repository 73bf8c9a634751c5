"""用户接口。"""
import asyncio

from fastapi import APIRouter

from kb_api.core.legacy import Notifier, audit
from kb_api.services.indexer import embed_document, index_document

router = APIRouter(prefix="/users")


@router.post("/{user_id}/notify")
def notify(user_id: int, text: str):
    Notifier.instance().notify(user_id, text, urgent=True)  # SITE: manager_enqueue
    Notifier.instance().mail("a@example.com")  # SITE: manager_enqueue
    audit(f"notify {user_id}")  # SITE: manager_enqueue
    return {"ok": True}


@router.post("/{user_id}/cb")
def with_callback(user_id: int):
    cb = Notifier.instance().make_callback(user_id)
    cb("你好")
    return {"ok": True}


@router.post("/{user_id}/embed")
async def embed_later(user_id: int):
    asyncio.ensure_future(embed_document(str(user_id)))  # SITE: create_task
    loop = asyncio.get_running_loop()
    loop.run_in_executor(None, index_document, str(user_id), "t")  # SITE: executor_submit
    return {"ok": True}
