"""报表服务：构造函数注入任务管理器。"""

from __future__ import annotations

from ..core.task_manager import TaskManager


class ReportService:
    def __init__(self, tm: TaskManager) -> None:
        self.tm = tm

    def schedule(self, report_id: int) -> None:
        self.tm.add_task("report", {"id": report_id}, priority=3)  # SITE: manager_enqueue

    def schedule_later(self, report_id: int) -> None:
        def _cb() -> None:
            # 闭包里的 self
            self.tm.add_task("report", {"id": report_id})  # SITE: manager_enqueue

        _cb()
