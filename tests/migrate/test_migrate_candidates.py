"""Candidates (likely sites scan could not resolve) in scan and check (Q2C003), their
suppression, and what scan's exit code and summary say."""

from __future__ import annotations

import json

from queue2celery.cli import main
from queue2celery.migrate import check, load_config, scan

UNRESOLVED = """
import queue

def forward(job_queue, item):
    job_queue.put(item)

def ok(job_queue, item):
    job_queue.put(item)  # q2c: ignore[Q2C003]

def other(cache, item):
    cache.put(item)  # not queue-like by name: never a candidate

def enqueue(manager, kind):
    manager.add_task(kind, {})
"""


def test_unresolved_queue_like_receivers_are_candidates_with_a_reason(project) -> None:
    root = project({"app/relay.py": UNRESOLVED})
    result = scan(root, load_config(root), jobs=1)
    assert result.sites == ()
    got = [(c.line, c.method, c.receiver) for c in result.candidates]
    assert got == [(5, "put", "job_queue"), (8, "put", "job_queue"), (14, "add_task", "manager")]
    assert "could not be resolved" in result.candidates[0].reason
    doc = json.loads(json.dumps(result.to_dict()))
    assert doc["candidates"][0] == {
        "path": "app/relay.py",
        "line": 5,
        "col": 5,
        "method": "put",
        "receiver": "job_queue",
        "reason": result.candidates[0].reason,
    }


def test_check_fails_on_candidates_as_q2c003_unless_suppressed(project) -> None:
    root = project({"app/relay.py": UNRESOLVED})
    found = check(root, load_config(root), jobs=1)
    assert not found.ok
    assert [(f.line, f.code) for f in found.findings] == [(5, "Q2C003"), (14, "Q2C003")]
    assert "q2c: ignore[Q2C003]" in found.findings[0].message


def test_ignore_in_pyproject_leaves_codes_or_paths_out(project) -> None:
    for ignore in ('["Q2C003"]', '["app/relay.py"]', '["app/*.py:Q2C003"]'):
        root = project(
            {"app/relay.py": UNRESOLVED}, pyproject=f"[tool.queue2celery]\nignore = {ignore}\n"
        )
        assert check(root, load_config(root), jobs=1).ok, ignore


def test_a_bad_ignore_value_is_a_one_line_error(project, capsys) -> None:
    root = project({"app/relay.py": UNRESOLVED}, pyproject='[tool.queue2celery]\nignore = "x"\n')
    assert main(["check", str(root)]) == 2  # bad input; 1 is for findings
    err = capsys.readouterr().err
    assert "must be a list of strings" in err and "Traceback" not in err


def test_scan_exits_1_and_says_what_its_counts_mean_when_a_file_does_not_parse(
    project, capsys
) -> None:
    root = project(
        {
            "app/relay.py": UNRESOLVED,
            "app/broken.py": "def f(:\n    q.put(1)\n",
            "app/plain.py": "X = 1\n",
        }
    )
    assert main(["scan", str(root), "-j", "1"]) == 1
    out = capsys.readouterr().out
    summary = out.strip().splitlines()[-1]
    assert summary == (
        "0 site(s), 3 candidate(s), 0 handler(s), 0 periodic job(s), 1 error(s); "
        "4 file(s) scanned: 1 analysed in depth, "
        "2 skipped by the text filter (they cannot hold a site), "
        "1 could not be read or parsed"
    )
    assert "app/broken.py: error:" in out
    assert main(["scan", str(root), "--json", "-j", "1"]) == 1
    assert json.loads(capsys.readouterr().out)["errors"][0]["path"] == "app/broken.py"


def test_scan_exits_0_on_a_clean_tree(project, capsys) -> None:
    root = project({"app/plain.py": "X = 1\n"})
    assert main(["scan", str(root), "-j", "1"]) == 0


def test_the_facts_cache_is_reused_only_for_unchanged_files(project) -> None:
    root = project({"app/relay.py": UNRESOLVED})
    first = scan(root, load_config(root), jobs=1, use_cache=True)
    assert (root / ".q2c_cache" / ".gitignore").read_text() == "*\n"
    assert scan(root, load_config(root), jobs=1, use_cache=True) == first
    relay = root / "app" / "relay.py"
    relay.write_text(UNRESOLVED.replace("job_queue.put(item)\n", "pass\n", 1), encoding="utf-8")
    changed = scan(root, load_config(root), jobs=1, use_cache=True)
    assert [c.line for c in changed.candidates] == [8, 14]
    assert changed == scan(root, load_config(root), jobs=1)  # same as without the cache


PRIORITY_APP = {
    "app/tasks/queue.py": """
    import threading
    from queue import PriorityQueue

    jobs = PriorityQueue()

    def worker():
        while True:
            priority, job = jobs.get()
            print(job)

    def stop():
        jobs.put((0, None))

    threading.Thread(target=worker, daemon=True).start()
    """,
    "app/api/routes.py": """
    from app.tasks.queue import jobs

    def add_task(kind, data, priority=5):
        # 优先级越小越先
        jobs.put((priority, {"kind": kind, "data": data}))
    """,
}


def test_rewrite_sends_the_item_of_a_priority_tuple_with_its_priority(project) -> None:
    from queue2celery.migrate import rewrite

    root = project(
        PRIORITY_APP,
        pyproject='[tool.queue2celery.queues]\n"app.tasks.queue.jobs" = "app.celery_tasks.run"\n',
    )
    result = rewrite(root, load_config(root), jobs=1)
    assert result.ok
    routes = (root / "app" / "api" / "routes.py").read_text(encoding="utf-8")
    assert 'run.apply_async(({"kind": kind, "data": data},), priority=priority)' in routes
    compile(routes, "routes.py", "exec")
    queue_module = (root / "app" / "tasks" / "queue.py").read_text(encoding="utf-8")
    assert "jobs.put((0, None))" in queue_module  # the shutdown sentinel stays


CIRCULAR_APP = {
    "app/tasks.py": """
    from app.api import routes  # the tasks module imports the routes (a shared helper)

    def send_email(to):
        return routes.normalise(to)
    """,
    "app/api/routes.py": '''
    from fastapi import BackgroundTasks

    from app.jobs import send_email


    def normalise(to):
        return to.lower()


    def signup(to, background_tasks: BackgroundTasks):
        """注册后发邮件。"""
        background_tasks.add_task(send_email, to)
        return to
    ''',
    "app/jobs.py": "def send_email(to):\n    return to\n",
}


def test_rewrite_imports_inside_the_function_when_the_task_module_imports_the_site(
    project,
) -> None:
    from queue2celery.migrate import rewrite

    root = project(
        CIRCULAR_APP,
        pyproject='[tool.queue2celery.functions]\n"app.jobs.send_email" = "app.tasks.send_email"\n',
    )
    assert rewrite(root, load_config(root), jobs=1).ok
    routes = (root / "app" / "api" / "routes.py").read_text(encoding="utf-8")
    assert routes.count("from app.tasks import send_email") == 1
    assert '    """注册后发邮件。"""\n    from app.tasks import send_email\n' in routes
    assert "from app.jobs import send_email" not in routes
    assert rewrite(root, load_config(root), jobs=1).changes == ()  # idempotent
    import subprocess
    import sys

    code = "import app.tasks, app.api.routes; print(app.api.routes.normalise('A'))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr  # no circular ImportError


SEND_EMAIL_MAPPING = (
    '[tool.queue2celery.functions]\n"app.jobs.send_email" = "app.celery_tasks.send_email"\n'
)


def test_a_call_that_does_not_match_the_mapped_tasks_signature_is_a_kwargs_risk(
    project,
) -> None:
    root = project(
        {
            "app/celery_tasks.py": """
            def send_email(to, subject="hi"):
                return to
            """,
            "app/jobs.py": "def send_email(to, subject='hi', cc=None):\n    return to\n",
            "app/api/routes.py": """
            import asyncio
            from fastapi import BackgroundTasks
            from app.jobs import send_email

            async def ok(to, background_tasks: BackgroundTasks):
                background_tasks.add_task(send_email, to, subject="x")

            async def wrong(to, background_tasks: BackgroundTasks):
                background_tasks.add_task(send_email, to, cc="boss")  # 任务不收 cc

            async def missing():
                asyncio.create_task(send_email())
            """,
        },
        pyproject=SEND_EMAIL_MAPPING,
    )
    sites = scan(root, load_config(root), jobs=1).sites
    risks = {s.line: [r for r in s.risks if r.code == "kwargs"] for s in sites}
    assert risks[7] == []
    assert "takes no argument 'cc'" in risks[10][0].message
    assert "needs 1 argument(s), the call passes 0" in risks[13][0].message
