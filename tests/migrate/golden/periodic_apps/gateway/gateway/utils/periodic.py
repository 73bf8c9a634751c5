"""简单的周期任务工具类（团队自己写的）。"""

import logging
import threading

logger = logging.getLogger(__name__)


class PeriodicTask:
    """每隔 interval 秒调用一次 func，在后台线程里跑。"""

    def __init__(self, interval: float, func, name: str | None = None) -> None:
        self.interval = interval
        self.func = func
        self.name = name or func.__name__
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.func()
            except Exception:
                logger.exception("周期任务 %s 出错", self.name)
            self._stop.wait(self.interval)
