import logging
import threading
import time

logger = logging.getLogger(__name__)
WATCHDOG_SECONDS = 10


class Watchdog(threading.Thread):
    """看门狗：检查设备心跳。"""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="watchdog")

    def check_heartbeats(self) -> None:
        logger.debug("checking heartbeats")

    def run(self) -> None:
        while True:
            self.check_heartbeats()
            time.sleep(WATCHDOG_SECONDS)


watchdog = Watchdog()
