"""相似代码：已经在消息代理上的任务（ARQ、Celery），不应报告。"""
from arq.connections import ArqRedis
from celery import shared_task
from fastapi import APIRouter, Request

router = APIRouter(prefix="/misc")


@shared_task
def ping(n: int) -> int:
    return n


@router.post("/arq/{n}")
async def arq_job(n: int, request: Request):
    redis: ArqRedis = request.app.state.arq
    await redis.enqueue_job("ping", n)
    return {"ok": True}


@router.post("/celery/{n}")
def celery_job(n: int):
    ping.delay(n)
    return {"ok": True}
