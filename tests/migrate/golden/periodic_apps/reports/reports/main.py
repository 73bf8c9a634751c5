from fastapi import FastAPI

from reports import legacy_schedule
from reports.api import router
from reports.aps import scheduler

app = FastAPI()
app.include_router(router)


@app.on_event("startup")
async def startup() -> None:
    scheduler.start()
    legacy_schedule.start()


@app.on_event("shutdown")
async def shutdown() -> None:
    scheduler.shutdown(wait=False)
