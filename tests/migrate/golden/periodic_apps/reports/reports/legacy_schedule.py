"""用 schedule 库做的定时任务（旧代码，Windows 上写的，CRLF 换行）。"""

import threading
import time

import schedule

from reports.jobs import rotate_logs, send_daily_report, weekly_summary
from reports.settings import REPORT_TIME

# 每 6 小时切一次日志
schedule.every(6).hours.do(rotate_logs)
# 每天凌晨两点发日报
schedule.every().day.at(REPORT_TIME).do(send_daily_report)
schedule.every().monday.at("09:30").do(weekly_summary)


def _run_scheduler() -> None:
    while True:
        schedule.run_pending()
        time.sleep(1)


def start() -> None:
    threading.Thread(target=_run_scheduler, name="schedule", daemon=True).start()
