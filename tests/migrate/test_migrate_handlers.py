"""scan: handlers registered on legacy queues and task managers, by meaning, with the
module-level state they share (the ``shared-state`` risk)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from queue2celery.cli import main
from queue2celery.migrate import MigrateConfig, check, scan

QUEUE = """
    from queue2celery.legacy_queue import TaskQueue

    task_queue = TaskQueue(workers=2)
"""
MANAGER = """
    import threading

    class TaskManager:
        def register_handler(self, name, fn): ...
        def add_task(self, name, payload): ...

    task_manager = TaskManager()
"""

Row = tuple[str, int, int, str, "str | None", "str | None", object, object]


def _handlers(root: Path, config: MigrateConfig | None = None, **kwargs: object) -> list[Row]:
    result = scan(root, config or MigrateConfig(), jobs=1, **kwargs)  # type: ignore[arg-type]
    return [
        (h.path, h.line, h.col, h.queue, h.name, h.function, h.max_retries, h.retry_delay)
        for h in result.handlers
    ]


def _risks(root: Path) -> dict[str | None, list[str]]:
    result = scan(root, MigrateConfig(), jobs=1)
    return {h.name: [f"{r.code}: {r.message}" for r in h.risks] for h in result.handlers}


def test_every_task_queue_registration_form_is_a_handler(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE,
            "app/tasks/handlers.py": """
    from app.tasks.queue import task_queue

    @task_queue.handler
    def plain(item):
        return item

    @task_queue.handler("video", max_retries=3, retry_delay=1.5)
    def process_video(item):
        return item

    @task_queue.handler(max_retries=-1)
    async def no_name(item):
        return item

    def added(item):
        return item

    def called(item):
        return item

    task_queue.add_handler("added_name", added, max_retries=2)
    task_queue.handler(called)
    task_queue.handler("curried")(called)
    task_queue.add_handler("lambda", lambda item: item, retry_delay=RETRY)
    """,
        }
    )
    q, m = "app.tasks.queue.task_queue", "app.tasks.handlers"
    rel = "app/tasks/handlers.py"
    assert _handlers(root) == [
        (rel, 4, 1, q, "plain", f"{m}.plain", None, None),
        (rel, 8, 1, q, "video", f"{m}.process_video", 3, 1.5),
        (rel, 12, 1, q, "no_name", f"{m}.no_name", -1, None),
        (rel, 22, 1, q, "added_name", f"{m}.added", 2, None),
        (rel, 23, 1, q, "called", f"{m}.called", None, None),
        (rel, 24, 1, q, "curried", f"{m}.called", None, None),
        (rel, 25, 1, q, "lambda", None, None, None),
    ]


def test_handlers_are_found_through_alias_module_attribute_and_relative_import(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE,
            "app/tasks/a.py": """
    from app.tasks.queue import task_queue as tq

    @tq.handler("a")
    def a(item): ...
    """,
            "app/tasks/b.py": """
    from app.tasks import queue

    @queue.task_queue.handler
    def b(item): ...
    """,
            "app/tasks/c.py": """
    from .queue import task_queue
    from app.jobs import send_email

    task_queue.add_handler("c", send_email)
    """,
            "app/jobs.py": """
    def send_email(item): ...
    """,
        }
    )
    q = "app.tasks.queue.task_queue"
    assert [(r[0], r[3], r[4], r[5]) for r in _handlers(root)] == [
        ("app/tasks/a.py", q, "a", "app.tasks.a.a"),
        ("app/tasks/b.py", q, "b", "app.tasks.b.b"),
        ("app/tasks/c.py", q, "c", "app.jobs.send_email"),
    ]


def test_task_manager_register_handler_call_and_decorator_are_handlers(project) -> None:
    root = project(
        {
            "app/tasks/manager.py": MANAGER,
            "app/tasks/jobs.py": """
    from app.tasks.manager import task_manager

    def resize(payload): ...

    task_manager.register_handler("resize", resize)

    @task_manager.register_handler("crop")
    def crop(payload): ...

    task_manager.register_handler(resize)
    task_manager.register_handler("rotate")(resize)
    task_manager.register_handler(TASK_NAME, resize)
    """,
        }
    )
    q, f = "app.tasks.manager.task_manager", "app.tasks.jobs.resize"
    assert [(r[1], r[3], r[4], r[5]) for r in _handlers(root)] == [
        (6, q, "resize", f),
        (8, q, "crop", "app.tasks.jobs.crop"),
        (11, q, "resize", f),
        (12, q, "rotate", f),
        (13, q, None, f),  # the name is not a literal
    ]


def test_a_mapped_queue_needs_no_definition_in_the_tree(project) -> None:
    root = project(
        {
            "app/api/handlers.py": """
    from vendor.queues import jobs

    @jobs.handler("x")
    def x(item): ...
    """
        }
    )
    assert _handlers(root) == []
    mapped = MigrateConfig.from_mappings({"vendor.queues.jobs": "app.celery_tasks.x"})
    assert [(r[3], r[4]) for r in _handlers(root, mapped)] == [("vendor.queues.jobs", "x")]


LOOK_ALIKES = {
    "router_get": """
    from fastapi import APIRouter
    router = APIRouter()

    @router.get("/items")
    def items(): ...
    """,
    "app_handler_not_a_queue": """
    from flask import Flask
    app = Flask(__name__)

    @app.handler("boom")
    def boom(): ...

    app.add_handler("x", boom)
    """,
    "signal_handler": """
    import signal

    def on_term(signum, frame): ...

    signal.signal(signal.SIGTERM, on_term)
    """,
    "logging_handlers": """
    import logging
    logger = logging.getLogger(__name__)
    h = logging.StreamHandler()
    logger.addHandler(h)
    logger.handlers.append(h)
    """,
    "urllib_opener": """
    import urllib.request
    opener = urllib.request.OpenerDirector()
    opener.add_handler(urllib.request.HTTPHandler())
    """,
    "stored_callback": """
    class Button:
        def __init__(self, handler):
            self.handler = handler

        def click(self, event):
            self.handler(event)
    """,
    "registry_not_a_manager": """
    class Registry:
        def register_handler(self, name, fn): ...

    registry = Registry()
    registry.register_handler("x", print)
    """,
    "queue_put_module_parameter": """
    from app.tasks.queue import task_queue

    def setup(task_queue):
        @task_queue.handler
        def local(item): ...
    """,
}


@pytest.mark.parametrize("source", LOOK_ALIKES.values(), ids=list(LOOK_ALIKES))
def test_look_alikes_are_never_handlers(project, source: str) -> None:
    root = project({"app/tasks/queue.py": QUEUE, "app/other.py": source})
    assert _handlers(root) == []


STATE = """
    import collections
    from app.tasks.queue import task_queue

    task_status = {}
    events = []
    seen = set()
    counts = collections.Counter()
    processed = 0
    CITY = {(1, 2): "x"}
    LIMIT = 10

    def status(video_id):
        return task_status.get(video_id)
"""


def test_a_handler_writing_module_level_state_carries_the_shared_state_risk(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE,
            "app/tasks/handlers.py": STATE
            + """
    @task_queue.handler("status")
    def set_status(item):
        task_status[item["id"]]["progress"] = 50

    @task_queue.handler("log")
    def log(item):
        events.append(item)
        seen.add(item["id"])
        counts.update([item["id"]])

    @task_queue.handler("count")
    def count(item):
        global processed
        processed += 1

    @task_queue.handler("drop")
    def drop(item):
        del task_status[item["id"]]
    """,
        }
    )
    tail = "once the worker is another process the API no longer sees it; keep it in Redis"
    risks = _risks(root)
    assert risks["status"] == [
        f"shared-state: writes module-level task_status: {tail} or a database"
    ]
    assert [r.split(":")[1].strip() for r in risks["log"]] == [
        "writes module-level counts",
        "writes module-level events",
        "writes module-level seen",
    ]
    assert risks["count"] == [
        f"shared-state: rebinds module-level processed (global): {tail} or a database"
    ]
    assert risks["drop"] == risks["status"]


def test_a_handler_reading_state_others_write_is_flagged_and_constants_are_not(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE,
            "app/tasks/handlers.py": STATE
            + """
    def mark(video_id):
        task_status[video_id] = "queued"

    @task_queue.handler("report")
    def report(item):
        return task_status.get(item["id"])

    @task_queue.handler("pure")
    def pure(item):
        local = {}
        local[item["id"]] = CITY.get(item["coords"], "?")
        rows = []
        rows.append(LIMIT)
        return local, rows
    """,
        }
    )
    risks = _risks(root)
    assert risks["report"] == [
        "shared-state: reads module-level task_status, which other code writes: once the "
        "worker is another process it no longer sees those writes; keep it in Redis or a "
        "database"
    ]
    assert risks["pure"] == []


def test_state_of_another_module_is_named_in_full_and_a_handler_elsewhere_is_followed(
    project,
) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE,
            "app/state.py": "progress = {}\n",
            "app/jobs.py": """
    sent = []

    def send_email(item):
        sent.append(item)
    """,
            "app/tasks/handlers.py": """
    from app import state
    from app.jobs import send_email
    from app.tasks.queue import task_queue

    def work(item):
        state.progress[item] = 1

    task_queue.add_handler("work", work)
    task_queue.add_handler("mail", send_email)
    """,
        }
    )
    risks = _risks(root)
    assert [r.split(":")[1].strip() for r in risks["work"]] == [
        "writes module-level app.state.progress"
    ]
    assert [r.split(":")[1].strip() for r in risks["mail"]] == ["writes module-level sent"]


def test_the_filters_lose_no_handler(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE,
            "app/tasks/manager.py": MANAGER,
            "app/a.py": """
    from app.tasks.queue import task_queue
    from app.tasks.manager import task_manager

    @task_queue . handler
    def a(item): ...

    task_manager.register_handler(
        "b", a)
    """,
            "app/docs.py": '"""Call task_queue.add_handler("x", f) to register."""\n',
        }
    )
    fast = scan(root, MigrateConfig(), jobs=1)
    slow = scan(root, MigrateConfig(), jobs=1, prefilter=False)
    assert fast.handlers == slow.handlers
    assert [h.name for h in fast.handlers] == ["a", "b"]
    assert fast.files_parsed < slow.files_parsed  # docs.py is dropped by the ast filter


def test_check_ignores_handlers(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE
            + """
    @task_queue.handler
    def h(item): ...
    """
        }
    )
    assert check(root, MigrateConfig(), jobs=1).ok


def test_scan_json_and_text_list_handlers_after_the_sites(project, capsys) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE
            + """
    status = {}

    @task_queue.handler("video", max_retries=3, retry_delay=60)
    def video(item):
        status[item] = "done"

    def enqueue(x):
        task_queue.put(x)
    """
        }
    )
    assert main(["scan", str(root), "--json", "-j", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc)[:4] == ["files_scanned", "sites", "errors", "handlers"]
    assert [s["kind"] for s in doc["sites"]] == ["queue_put"]
    (handler,) = doc["handlers"]
    assert handler == {
        "path": "app/tasks/queue.py",
        "line": 8,
        "col": 1,
        "queue": "app.tasks.queue.task_queue",
        "name": "video",
        "function": "app.tasks.queue.video",
        "max_retries": 3,
        "retry_delay": 60,
        "risks": [{"code": "shared-state", "message": handler["risks"][0]["message"]}],
    }
    assert handler["risks"][0]["message"].startswith("writes module-level status: ")

    assert main(["scan", str(root), "-j", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("app/tasks/queue.py:13:5: queue_put ")
    assert lines[1] == (
        "app/tasks/queue.py:8:1: handler video on app.tasks.queue.task_queue -> "
        "app.tasks.queue.video (max_retries=3, retry_delay=60)"
    )
    assert lines[2].startswith("    risk shared-state: writes module-level status: ")
    assert lines[3].startswith(
        "1 site(s), 0 candidate(s), 1 handler(s), 0 periodic job(s), 0 error(s); "
    )


def test_the_example_apps_manager_queue_is_drained_through_run_in_executor() -> None:
    # Its consumer takes items with loop.run_in_executor(None, self.queue.get): the queue is
    # a drained task queue, so the manager's own puts are sites, not candidates.
    example = Path(__file__).resolve().parents[2] / "queue2celery" / "examples" / "legacy_app"
    result = scan(example, jobs=1)
    assert result.candidates == ()
    manager = [s for s in result.sites if s.path == "fastapi_app/tasks/manager.py"]
    assert {s.queue for s in manager} == {"fastapi_app.tasks.manager.TaskManager.queue"}
    assert any(s.kind == "manager_add_task" for s in result.sites)
