"""What the held-out kb app (tests/migrate/apps/kb_api) showed scan missing, one shape each."""

from __future__ import annotations

from pathlib import Path

from queue2celery.migrate import MigrateConfig, scan

MANAGER = """
    import queue
    import threading

    class JobManager:
        def __init__(self):
            self._q = queue.Queue()
            threading.Thread(target=self._run, daemon=True).start()

        def submit(self, kind, payload):
            self._q.put((kind, payload))

        def _run(self):
            while True:
                job = self._q.get()
                print(job)
"""


def _found(root: Path) -> tuple[dict[tuple[str, int], str], set[tuple[str, int]]]:
    result = scan(root, MigrateConfig(), jobs=1)
    return (
        {(s.path, s.line): s.kind for s in result.sites},
        {(c.path, c.line) for c in result.candidates},
    )


def test_an_enqueue_method_on_a_cached_factorys_result_is_a_manager_enqueue_site(project) -> None:
    root = project(
        {
            "app/jobs.py": MANAGER,
            "app/deps.py": """
    from functools import lru_cache
    from app.jobs import JobManager

    @lru_cache
    def get_manager() -> JobManager:
        return JobManager()
    """,
            "app/routes.py": """
    from app.deps import get_manager

    async def make(report_id):
        get_manager().submit("embed", report_id)
    """,
        }
    )
    sites, _ = _found(root)
    assert sites[("app/routes.py", 5)] == "manager_enqueue"


def test_a_classmethod_singleton_with_a_string_return_annotation_is_followed(project) -> None:
    root = project(
        {
            "app/legacy.py": """
    import queue
    import threading

    class Notifier:
        _instance = None

        def __init__(self):
            self.__outbox = queue.Queue()
            threading.Thread(target=self._send_loop, daemon=True).start()

        @classmethod
        def instance(cls) -> "Notifier":
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

        def mail(self, to):
            self.__outbox.put(to)

        def _send_loop(self):
            while True:
                print("sending", self.__outbox.get())
    """,
            "app/users.py": """
    from app.legacy import Notifier

    def notify(user_id):
        Notifier.instance().mail("a@example.com")
    """,
        }
    )
    sites, candidates = _found(root)
    assert sites[("app/legacy.py", 19)] == "queue_put"  # drained by print(q.get())
    assert sites[("app/users.py", 5)] == "manager_enqueue"
    assert candidates == set()


def test_a_get_used_as_an_argument_outside_a_forever_loop_drains_nothing(project) -> None:
    root = project(
        {
            "app/m.py": """
    import queue
    import threading

    q = queue.Queue()

    def once():
        for _ in range(3):
            print(q.get())

    threading.Thread(target=once).start()

    def handler(x):
        q.put(x)
    """,
        }
    )
    sites, candidates = _found(root)
    assert ("app/m.py", 14) not in sites
    assert ("app/m.py", 14) in candidates
