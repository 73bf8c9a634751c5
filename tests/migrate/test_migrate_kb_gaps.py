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


# -- priority tuples: (priority, item), (priority, counter, item), (priority, x, item) ------
SHAPES = [
    ("(5, job)", "split"),
    ("(-1, job)", "split"),
    ("(0 if urgent else 5, job)", "split"),
    ("(self.level + 1, job)", "split"),
    ("(prio_of(job), job)", "split"),
    ("(5, next(counter), job)", "split"),
    ("(5, next(self._seq), job)", "split"),
    ("(5, time.time(), job)", "split"),
    ("(5, monotonic(), job)", "split"),
    ("(5, id(job), job)", "split"),
    ("(5, self._counter, job)", "split"),
    ("(5, tie_breaker, job)", "split"),
    ("(5, order_no, job)", "split"),
    ("(5, n, job)", "split"),
    ("(9, user_id, text)", "unsplit"),
    ("(0 if urgent else 5, user_id, text)", "unsplit"),
    ("(5, name, job)", "unsplit"),
    ("('high', job)", ""),
    ("(fetch(), job)", ""),
    ("(5, job, x, y)", ""),
    ("(5, *rest)", ""),
    ("job", ""),
]


def test_both_twins_read_each_priority_shape_the_same_way() -> None:
    import ast

    import libcst as cst

    from queue2celery.migrate import _ast_rules, _rules

    for code, shape in SHAPES:
        tree = ast.parse(code, mode="eval").body
        first = ast.get_source_segment(code, tree.elts[0]) if isinstance(tree, ast.Tuple) else ""
        assert _ast_rules.priority_shape(tree, first or "") == shape, code
        node = cst.parse_expression(code)
        assert _rules.priority_shape(node) == shape, code
        ast_split = _ast_rules.priority_split(tree, first or "")
        cst_split = _rules.priority_split(node)
        assert (ast_split is not None) == (cst_split is not None) == (shape == "split"), code
        if cst_split is not None:
            assert cst.Module([]).code_for_node(cst_split[1]) == "job"


PRIORITY3 = """
    import itertools
    import threading
    from queue import PriorityQueue

    jobs = PriorityQueue()
    counter = itertools.count()

    def worker():
        while True:
            entry = jobs.get()
            print(entry)

    threading.Thread(target=worker, daemon=True).start()

    def with_counter(text):
        jobs.put((5, next(counter), text))

    def with_user(user_id, text):
        jobs.put((9, user_id, text))
"""


def test_a_priority_three_tuple_is_split_only_when_its_middle_is_a_counter(project) -> None:
    from queue2celery.migrate import load_config, rewrite

    root = project(
        {"app/q.py": PRIORITY3},
        pyproject='[tool.queue2celery.queues]\n"app.q.jobs" = "app.celery_tasks.run"\n',
    )
    result = scan(root, load_config(root), jobs=1)
    risks = {s.line: {r.code: r.message for r in s.risks} for s in result.sites}
    assert "priority-tuple" in risks[17] and "priority-tuple" in risks[20]
    assert "tie-breaker" in risks[20]["priority-tuple"]
    assert "tie-breaker" not in risks[17]["priority-tuple"]
    done = rewrite(root, load_config(root), jobs=1)
    assert done.ok, done.errors
    text = (root / "app" / "q.py").read_text(encoding="utf-8")
    assert "run.apply_async((text,), priority=5)" in text  # the counter is dropped
    assert "jobs.put((9, user_id, text))" in text  # user_id is no counter: left as it is
    assert any("tie-breaker" in w for w in _warnings(done))


def _warnings(result) -> list[str]:
    return [str(w) for w in getattr(result, "warnings", ())] + [
        str(c) for c in getattr(result, "changes", ())
    ]


def test_a_task_started_from_a_parameter_is_a_candidate_not_a_site(project) -> None:
    root = project(
        {
            "app/util.py": """
    import asyncio
    import threading

    def fire_and_forget(coro_fn, *args):
        loop = asyncio.get_event_loop()
        loop.create_task(coro_fn(*args))

    def in_thread(fn):
        threading.Thread(target=fn).start()

    async def ping():
        return 1

    def start_ping():
        asyncio.get_event_loop().create_task(ping())
    """,
        }
    )
    result = scan(root, MigrateConfig(), jobs=1)
    assert [(s.line, s.kind) for s in result.sites] == [(16, "create_task")]
    found = [(c.line, c.receiver, c.method, c.reason) for c in result.candidates]
    assert [f[:3] for f in found] == [
        (7, "loop", "create_task"),
        (10, "threading.Thread(target=fn)", "start"),
    ]
    assert found[0][3].startswith("runs whatever its callers pass in coro_fn; their calls decide")
    assert "coro_fn is a parameter of fire_and_forget()" in found[0][3]
    assert found[1][3].startswith("runs whatever its callers pass in fn; their calls decide")
