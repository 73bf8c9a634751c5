"""通知服务：类属性队列 + 单例。"""

from __future__ import annotations

import queue
import threading
from typing import Any


class Notifier:
    _outbox: queue.Queue = queue.Queue()  # 类属性上的队列
    _instance: Notifier | None = None

    def __init__(self) -> None:
        threading.Thread(target=self._deliver, daemon=True).start()

    @classmethod
    def instance(cls) -> Notifier:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def notify(self, user_id: int, text: str) -> None:
        self._outbox.put({"user_id": user_id, "text": text})  # SITE: queue_put

    def _deliver(self) -> None:
        while True:
            message = self._outbox.get()
            self._send(message)

    def _send(self, message: dict[str, Any]) -> None:
        print("send", message)


_notifier: Notifier | None = None


def get_notifier() -> Notifier:
    global _notifier
    if _notifier is None:
        _notifier = Notifier()
    return _notifier
