"""APScheduler 定时任务。"""

from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from reports.jobs import cleanup_tmp, report_heartbeat, send_welcome, sync_exchange_rates
from reports.settings import RATE_SYNC_MINUTES

scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")

scheduler.add_job(
    sync_exchange_rates,
    IntervalTrigger(minutes=RATE_SYNC_MINUTES),
    id="sync_rates",
    misfire_grace_time=30,
    coalesce=True,
)
scheduler.add_job(cleanup_tmp, "cron", hour=3, minute=30, id="cleanup_tmp")


@scheduler.scheduled_job("interval", seconds=45, id="heartbeat")
async def heartbeat() -> None:
    await report_heartbeat()


def schedule_welcome(user_id: int) -> None:
    # 一次性任务（date 触发器），不是周期任务
    scheduler.add_job(
        send_welcome, "date", run_date=datetime.now() + timedelta(minutes=5), args=[user_id]
    )
