"""旧模块：单例、类属性队列、名称改编属性、闭包。"""
import asyncio
import queue
import threading
from typing import Optional


class Notifier:
    _instance: Optional["Notifier"] = None
    _queue: "queue.PriorityQueue" = queue.PriorityQueue()  # 类属性队列

    def __init__(self) -> None:
        self.__outbox = queue.Queue()  # 名称改编
        threading.Thread(target=self._drain, daemon=True).start()
        threading.Thread(target=self._send_loop, daemon=True).start()

    @classmethod
    def instance(cls) -> "Notifier":
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def notify(self, user_id: int, text: str, urgent: bool = False) -> None:
        self._queue.put((0 if urgent else 5, user_id, text))  # SITE: queue_put priority-tuple

    def mail(self, to: str) -> None:
        self.__outbox.put(to)  # SITE: queue_put

    def _drain(self) -> None:
        while True:
            prio, user_id, text = self._queue.get()
            print(user_id, text)

    def _send_loop(self) -> None:
        while True:
            print("sending", self.__outbox.get())

    def make_callback(self, user_id: int):
        def cb(text: str) -> None:
            self._queue.put((9, user_id, text))  # 闭包里的 self  # SITE: queue_put priority-tuple
        return cb


audit_q: "queue.Queue[str]" = queue.Queue()


def _audit_writer() -> None:
    while True:
        line = audit_q.get()
        with open("/tmp/audit.log", "a") as fh:
            fh.write(line)


threading.Thread(target=_audit_writer, daemon=True).start()


def audit(line: str) -> None:
    audit_q.put(line + "\n")  # SITE: queue_put


def fire_and_forget(coro_fn, *args) -> None:
    loop = asyncio.get_event_loop()
    loop.create_task(coro_fn(*args))  # CANDIDATE
