"""应用入口。"""
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kb_api.api import docs, reports, ws
from kb_api.core.events import start_event_thread
from kb_api.core.jobs import JobManager
from kb_api.workers.handlers import register_all


@asynccontextmanager
async def lifespan(app: FastAPI):
    jobs = JobManager(concurrency=4)
    register_all(jobs)
    await jobs.start()
    app.state.jobs = jobs
    start_event_thread()
    yield
    await jobs.stop()


app = FastAPI(lifespan=lifespan)
app.include_router(docs.router)
app.include_router(reports.router)
app.include_router(ws.router)
