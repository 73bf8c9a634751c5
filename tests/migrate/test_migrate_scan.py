"""scan: sites by meaning, unmapped candidates, risks, errors and the JSON document."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from queue2celery.migrate import MigrateConfig, load_config, proposed_tables, rewrite, scan

IMPORT = "from app.tasks.queue import task_queue\n"
ROUTES_IMPORTS = """
    import requests
    from fastapi import APIRouter, BackgroundTasks
    from app.tasks.queue import task_queue as tq
    from ..tasks import queue as qmod
    from app.jobs import send_email, write_log
"""


def _sites(
    root: Path, config: MigrateConfig | None = None
) -> list[tuple[str, int, str, str | None, str | None]]:
    result = scan(root, config if config is not None else load_config(root), jobs=1)
    return [(s.path, s.line, s.kind, s.queue, s.target) for s in result.sites]


def test_mapped_queue_is_found_through_alias_module_attribute_and_relative_import(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": "task_queue = object()\n",
            "app/api/routes.py": ROUTES_IMPORTS
            + """
    def upload(video_id):
        tq.put(video_id)
        qmod.task_queue.put_nowait(video_id)
    """,
        }
    )
    target = "app.celery_tasks.process_task"
    assert _sites(root) == [
        ("app/api/routes.py", 9, "queue_put", "app.tasks.queue.task_queue", target),
        ("app/api/routes.py", 10, "queue_put", "app.tasks.queue.task_queue", target),
    ]


def test_parameter_or_local_with_the_queue_name_is_not_a_site(project) -> None:
    root = project(
        {
            "app/api/routes.py": """
    from app.tasks.queue import task_queue

    def drain(task_queue):
        task_queue.put(1)

    def local():
        task_queue = make()
        task_queue.put(2)
    """
        }
    )
    assert _sites(root) == []


def test_look_alikes_are_never_sites(project) -> None:
    root = project(
        {
            "app/api/routes.py": """
    import asyncio
    import requests
    from fastapi import APIRouter
    from app.tasks.queue import task_queue

    router = APIRouter()
    aq = asyncio.Queue()

    @router.put("/x")
    async def update(asyncio_queue):
        requests.put("https://example.com")
        await asyncio_queue.put(1)
        await aq.put(2)
        await task_queue.put(3)
    """
        }
    )
    assert _sites(root) == []


QUEUE_MODULE = """
    import queue
    import threading
    from concurrent.futures import ThreadPoolExecutor

    task_queue = queue.Queue()
    priority_queue = queue.PriorityQueue()
    conn_pool = queue.Queue()
    not_drained = queue.SimpleQueue()

    def handle(item):
        return item

    def worker():
        while True:
            item = task_queue.get()
            handle(item)
            task_queue.task_done()

    def priority_worker():
        while True:
            _, job = priority_queue.get()
            job()

    def borrow():
        conn = conn_pool.get()
        try:
            return conn.execute()
        finally:
            conn_pool.put(conn)

    threading.Thread(target=worker, daemon=True).start()
    ThreadPoolExecutor(2).submit(priority_worker)
"""


def test_unmapped_task_queues_are_reported_and_a_pool_is_not(project) -> None:
    root = project(
        {
            "app/tasks/queue.py": QUEUE_MODULE,
            "app/api/routes.py": """
    from app.tasks import queue as q

    def enqueue(x):
        q.task_queue.put({"x": x})
        q.priority_queue.put((1, x))
        q.conn_pool.put(x)
        q.not_drained.put(x)
    """,
        }
    )
    assert _sites(root, MigrateConfig()) == [
        ("app/api/routes.py", 5, "queue_put", "app.tasks.queue.task_queue", None),
        ("app/api/routes.py", 6, "queue_put", "app.tasks.queue.priority_queue", None),
    ]


def test_self_attribute_queue_drained_by_a_thread_is_a_site(project) -> None:
    root = project(
        {
            "app/worker.py": """
    import queue
    import threading

    class Worker:
        def __init__(self):
            self.jobs = queue.Queue()
            self.free = queue.Queue()
            threading.Thread(target=self._run, daemon=True).start()

        def _run(self):
            for job in iter(self.jobs.get, None):
                job.run()

        def submit(self, job):
            self.jobs.put(job)

        def give_back(self):
            conn = self.free.get()
            self.free.put(conn)
    """
        }
    )
    assert _sites(root, MigrateConfig()) == [
        ("app/worker.py", 16, "queue_put", "app.worker.Worker.jobs", None)
    ]


def test_legacy_task_queue_counts_as_a_task_queue(project) -> None:
    root = project(
        {
            "app/tasks/legacy.py": """
    from queue2celery.legacy_queue import TaskQueue

    task_queue = TaskQueue(workers=2)
    """,
            "app/api/routes.py": """
    from app.tasks.legacy import task_queue

    def enqueue(x):
        task_queue.put(x)
        task_queue.put_nowait(x)
    """,
        }
    )
    queue = "app.tasks.legacy.task_queue"
    assert _sites(root, MigrateConfig()) == [
        ("app/api/routes.py", 5, "queue_put", queue, None),
        ("app/api/routes.py", 6, "queue_put", queue, None),
    ]


def test_background_tasks_sites_carry_the_target_when_the_function_is_mapped(project) -> None:
    root = project(
        {
            "app/api/routes.py": ROUTES_IMPORTS
            + """
    def signup(email: str, background_tasks: BackgroundTasks, other):
        background_tasks.add_task(send_email, email)
        background_tasks.add_task(write_log, email)
        other.add_task(send_email, email)
    """
        }
    )
    assert _sites(root) == [
        (
            "app/api/routes.py",
            9,
            "background_task",
            "app.jobs.send_email",
            "app.celery_tasks.send_email",
        ),
        ("app/api/routes.py", 10, "background_task", "app.jobs.write_log", None),
    ]


def test_a_clear_task_manager_is_found_and_a_mapped_one_has_its_target(project) -> None:
    files = {
        "app/tasks/manager.py": """
    class TaskManager:
        def register_handler(self, name, fn): ...
        def add_task(self, name, payload): ...

    task_manager = TaskManager()
    """,
        "app/tasks/other.py": """
    class Registry:
        def add_task(self, name): ...

    registry = Registry()
    """,
        "app/api/routes.py": """
    from app.tasks.manager import task_manager
    from app.tasks.other import registry

    def upload(video_id):
        task_manager.add_task("process_video", {"video_id": video_id})
        registry.add_task("x")
    """,
    }
    root = project(files)
    site = ("app/api/routes.py", 6, "manager_add_task", "app.tasks.manager.task_manager")
    assert _sites(root, MigrateConfig()) == [(*site, None)]
    mapped = MigrateConfig.from_mappings({"app.tasks.manager.task_manager": "app.ct.run"})
    assert _sites(root, mapped) == [(*site, "app.ct.run")]


def test_risky_payloads_are_listed_with_stable_codes(project) -> None:
    root = project(
        {
            "app/api/routes.py": """
    from app.tasks.queue import task_queue
    from app.models import Video

    def enqueue(x):
        task_queue.put({"ids": {1, 2}, "pair": (1, 2), 3: "a", "f": lambda: 1})
        task_queue.put({"v": Video(x), "fs": frozenset(x), "b": b"raw"})
        task_queue.put({"ok": [1, 2], "s": "x"})
    """
        }
    )
    result = scan(root, load_config(root), jobs=1)
    codes = [[r.code for r in s.risks] for s in result.sites]
    assert codes == [
        ["tuple-literal", "set-literal", "lambda", "dict-non-str-key"],
        ["frozenset", "bytes-literal", "object-construction"],
        [],
    ]
    assert all(r.message for s in result.sites for r in s.risks)


def test_a_file_that_does_not_parse_is_reported_and_the_rest_is_scanned(project) -> None:
    root = project(
        {
            "app/broken.py": IMPORT + "def f(:\n    task_queue.put(1)\n",
            "app/api/routes.py": IMPORT + "task_queue.put(1)\n",
        }
    )
    result = scan(root, load_config(root), jobs=1)
    assert [(s.path, s.line) for s in result.sites] == [("app/api/routes.py", 2)]
    assert [e.path for e in result.errors] == ["app/broken.py"]
    message = result.errors[0].message
    assert "SyntaxError for Python 3." in message and "invalid syntax, line 2;" in message
    assert "run queue2celery with the Python your app runs on" in message


def test_json_document_has_exactly_the_design_schema(project) -> None:
    root = project({"app/api/routes.py": IMPORT + "\n\ntask_queue.put((1, 2))\n"})
    doc = json.loads(json.dumps(scan(root, load_config(root), jobs=1).to_dict()))
    assert set(doc) == {
        "files_scanned",
        "sites",
        "errors",
        "handlers",
        "candidates",
        "periodic",
        "files_parsed",
    }
    assert doc["handlers"] == [] and doc["candidates"] == []
    assert doc["files_scanned"] == 3  # routes.py and two __init__.py
    (site,) = doc["sites"]
    assert set(site) == {"path", "line", "col", "kind", "queue", "target", "risks"}
    assert site["path"] == "app/api/routes.py"
    assert (site["line"], site["col"]) == (4, 1)
    assert site["kind"] == "queue_put"
    assert site["risks"] == [{"code": "tuple-literal", "message": site["risks"][0]["message"]}]
    assert doc["errors"] == []


def test_skipped_folders_are_not_scanned_unless_they_are_the_path(project) -> None:
    line = "from app.tasks.queue import task_queue\ntask_queue.put(1)\n"
    root = project(
        {
            "app/api/routes.py": line,
            ".venv/lib/site-packages/pkg/mod.py": line,
            "node_modules/x/mod.py": line,
            "build/lib/mod.py": line,
            "env/mod.py": line,
        }
    )
    (root / "env" / "pyvenv.cfg").write_text("home = /usr\n")
    config = load_config(root)
    assert [s.path for s in scan(root, config, jobs=1).sites] == ["app/api/routes.py"]
    inside = root / ".venv" / "lib" / "site-packages"
    assert [s.path for s in scan(inside, config, jobs=1).sites] == ["pkg/mod.py"]


def test_symlink_leading_out_of_the_tree_is_not_followed(project, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "evil.py").write_text("from app.tasks.queue import task_queue\ntask_queue.put(1)\n")
    root = project({"app/api/routes.py": "x = 1\n"})
    os.symlink(outside, root / "app" / "linked_dir")
    os.symlink(outside / "evil.py", root / "app" / "linked.py")
    result = scan(root, load_config(root), jobs=1)
    assert result.sites == ()
    assert result.files_scanned == 3


def test_parallel_scan_finds_the_same_sites(project) -> None:
    files = {
        f"app/m{i}.py": "from app.tasks.queue import task_queue\ntask_queue.put(1)\n"
        for i in range(12)
    }
    root = project(files)
    config = load_config(root)
    assert scan(root, config, jobs=2).sites == scan(root, config, jobs=1).sites


def test_proposed_tables_name_every_unmapped_queue_and_function() -> None:
    text = proposed_tables(["app.q.task_queue", "app.q.task_queue"], ["app.jobs.send"])
    assert text.splitlines() == [
        "[tool.queue2celery.queues]",
        '"app.q.task_queue" = "CHANGE_ME.tasks.task_queue"',
        "",
        "[tool.queue2celery.functions]",
        '"app.jobs.send" = "CHANGE_ME.tasks.send"',
    ]


def test_nesting_that_would_crash_the_parser_is_an_error_not_a_crash(project) -> None:
    deep = IMPORT + "task_queue.put(" + "[" * 3000 + "]" * 3000 + ")\n"
    root = project({"app/deep.py": deep, "app/api/routes.py": IMPORT + "task_queue.put(1)\n"})
    config = load_config(root)
    result = scan(root, config, jobs=1)
    assert [s.path for s in result.sites] == ["app/api/routes.py"]
    assert [(e.path, "too deeply nested" in e.message) for e in result.errors] == [
        ("app/deep.py", True)
    ]
    rewritten = rewrite(root, config, jobs=1)
    assert [e.path for e in rewritten.errors] == ["app/deep.py"]
    assert [c.path for c in rewritten.changes] == ["app/api/routes.py"]


def test_python_312_syntax_is_scanned_on_312_and_a_clear_error_before(project) -> None:
    source = IMPORT + (
        "type Payload = dict[str, int]\n\n\n"
        "def first[T](items: list[T]) -> T:\n    return items[0]\n\n\n"
        'def enqueue(items):\n    task_queue.put(f"{f"{len(items)}"}")\n'
    )
    root = project({"app/api/routes.py": source})
    result = scan(root, load_config(root), jobs=1)
    if sys.version_info >= (3, 12):
        assert [(s.path, s.line) for s in result.sites] == [("app/api/routes.py", 10)]
        assert result.errors == ()
    else:  # scan reads code with the grammar of the Python it runs on, and says so
        assert result.sites == ()
        assert [e.path for e in result.errors] == ["app/api/routes.py"]
        assert "run queue2celery with the Python your app runs on" in result.errors[0].message
