"""init, rewrite and check on a home-made task manager (static: the worker runs are in
test_init_path.py): one adopted queue, mapped by its attribute; the put inside the enqueue
method rewritten with its priority; callers never turned into a call that cannot work; the
payload classes listed as types; the puts rewrite keeps said by check without failing it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from _init_apps import make_app

from queue2celery.cli import main
from queue2celery.migrate import MigrateConfig, ReplaceManagerAddTaskCommand, rewrite_source
from queue2celery.migrate._files import SourceFile
from queue2celery.migrate.codemods._base import TreeFacts
from queue2celery.migrate.codemods._priority import built_as_priority_queues
from queue2celery.migrate.codemods._signatures import TaskSignature
from queue2celery.migrate.init._pyproject import merge_types


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main([*argv, "-j", "1"])
    return code, capsys.readouterr().out


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def test_a_manager_is_one_adopted_queue_mapped_by_its_attribute(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    code, out = _cli(capsys, "init", str(root))
    assert code == 0, out
    assert "not done" not in out, out
    tasks = (root / "notes" / "celery_tasks.py").read_text(encoding="utf-8")
    assert tasks.count("def adopt_") == 1, tasks
    assert tasks.count("@celery_app.task(") == 1, tasks
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    # The queue, not the manager instance: add_task's callers are never mapped to a task
    # that takes one item.
    assert (
        '"notes.core.task_manager.TaskManager.queue" = "notes.celery_tasks.dispatch_task_manager"'
        in pyproject
    )
    assert '"notes.core.task_manager.task_manager"' not in pyproject
    assert 'types = ["notes.core.task_manager.Task"]' in pyproject
    # Celery's JSON carries Task in every process that imports the module.
    assert "    carry_types(Task)\n" in tasks
    assert "queue2celery.compat._types" not in tasks and "_codec" not in tasks
    assert "@before_task_publish.connect\n@worker_init.connect\n" in tasks


def test_rewrite_changes_the_put_inside_the_enqueue_method_and_leaves_its_callers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    route = (root / "notes" / "api" / "notes.py").read_bytes()
    assert _cli(capsys, "init", str(root))[0] == 0
    code, out = _cli(capsys, "check", str(root))
    assert code == 1
    assert "then rewrite changes the put inside its enqueue method" in out, out
    assert _cli(capsys, "rewrite", str(root))[0] == 0
    manager = (root / "notes" / "core" / "task_manager.py").read_text(encoding="utf-8")
    assert "        from notes.celery_tasks import dispatch_task_manager\n" in manager
    assert "        dispatch_task_manager.apply_async((task,), priority=priority)\n" in manager
    assert "self.queue.put(" not in manager
    assert (root / "notes" / "api" / "notes.py").read_bytes() == route
    code, out = _cli(capsys, "check", str(root))
    assert (code, out) == (0, "")
    # A new producer put on the manager's queue still fails check.
    with (root / "notes" / "api" / "notes.py").open("a", encoding="utf-8") as f:
        f.write("\n\ndef again(task) -> None:\n    task_manager.queue.put((5, 0, task))\n")
    code, out = _cli(capsys, "check", str(root))
    assert code == 1 and "Q2C001" in out and "warning" not in out, out


def test_a_manager_without_a_module_level_instance_gets_a_stub_that_quotes_its_factory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    path = root / "notes" / "core" / "task_manager.py"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "task_manager = TaskManager()\n",
            "def get_task_manager() -> TaskManager:\n    return TaskManager()\n\n\n"
            "task_manager = get_task_manager()\n",
        ),
        encoding="utf-8",
    )
    code, out = _cli(capsys, "init", str(root))
    assert code == 1, out  # the stub remains
    assert "not done: notes.core.task_manager.TaskManager.queue" not in out, out
    assert "stub to fill in: notes.celery_tasks.run_taskmanager_queue" in out, out
    tasks = (root / "notes" / "celery_tasks.py").read_text(encoding="utf-8")
    stub = tasks.split("def run_taskmanager_queue(")[1].split("\ndef ")[0]
    assert "the app builds its TaskManager at run time only" in stub
    assert "#   the app, at notes/core/task_manager.py:" in stub
    assert "(get_task_manager):\n    #       return TaskManager()\n" in stub
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert "CHANGE_ME" not in pyproject
    assert (
        '"notes.core.task_manager.TaskManager.queue" = '
        '"notes.celery_tasks.dispatch_taskmanager_queue"'
    ) in pyproject


def test_several_module_level_managers_are_named_and_none_is_guessed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    path = root / "notes" / "core" / "task_manager.py"
    text = path.read_text(encoding="utf-8") + "\nspare_manager = TaskManager()\n"
    path.write_text(text, encoding="utf-8")
    _, out = _cli(capsys, "init", str(root))
    assert "several module-level TaskManager instances" in out, out
    assert "notes.core.task_manager.spare_manager" in out


def _routes(tmp_path: Path) -> SourceFile:
    path = _write(
        tmp_path,
        {
            "app/tasks.py": """
                from queue import PriorityQueue

                from app.celery_tasks import adopt_jobs

                jobs = adopt_jobs(PriorityQueue())
                plain = adopt_jobs(object())


                class Manager:
                    def __init__(self):
                        self.queue = adopt_jobs(PriorityQueue(), self)
                        self.other = adopt_jobs(list())
            """
        },
    )
    return SourceFile(path / "app" / "tasks.py", "app/tasks.py", "app.tasks", False)


def test_a_priority_queue_stays_one_for_rewrite_once_it_is_adopted(tmp_path: Path) -> None:
    queues = {
        f"app.tasks.{name}": "app.celery_tasks.dispatch"
        for name in ("jobs", "plain", "Manager.queue", "Manager.other", "missing")
    }
    found = built_as_priority_queues([_routes(tmp_path)], queues)
    assert found == {"app.tasks.jobs", "app.tasks.Manager.queue"}


_CALLER = b"""from app.core import task_manager


def summarize(note_id):
    return task_manager.add_task("summarize", {"note_id": note_id}, priority=1)
"""


@pytest.mark.parametrize(
    ("signature", "changed"),
    [
        pytest.param(
            TaskSignature(("item",), 1, frozenset(), frozenset(), False, False),
            False,
            id="one-item-dispatcher",
        ),
        pytest.param(
            TaskSignature(("kind", "data", "priority"), 2, frozenset(), frozenset(), False, False),
            True,
            id="add_task-signature",
        ),
        pytest.param(None, True, id="task-outside-the-tree"),
    ],
)
def test_a_manager_caller_is_rewritten_only_into_a_call_that_fits_the_task(
    signature: TaskSignature | None, changed: bool
) -> None:
    target = "app.celery_tasks.enqueue"
    config = MigrateConfig(queues={"app.core.task_manager": target})
    facts = TreeFacts(signatures={target: signature} if signature else {})
    out, warnings = rewrite_source(
        _CALLER, config, module="app.api", codemods=(ReplaceManagerAddTaskCommand,), facts=facts
    )
    if changed:
        assert b'enqueue.delay("summarize", {"note_id": note_id}, priority=1)' in out
    else:
        assert out == _CALLER
        assert any("takes no argument 'priority'" in w for w in warnings), warnings


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            '[project]\nname = "x"\n',
            '[project]\nname = "x"\n\n[tool.queue2celery]\ntypes = ["m.Task"]\n',
            id="no-table",
        ),
        pytest.param(
            '[tool.queue2celery.queues]\n"a" = "b"\n',
            '[tool.queue2celery]\ntypes = ["m.Task"]\n\n[tool.queue2celery.queues]\n"a" = "b"\n',
            id="before-the-sub-tables",
        ),
        pytest.param(
            '[tool.queue2celery]\r\ntypes = ["a.B"]  # 我的\r\n',
            '[tool.queue2celery]\r\ntypes = ["a.B", "m.Task"]  # 我的\r\n',
            id="crlf-one-line-list-with-comment",
        ),
        pytest.param(
            '[tool.queue2celery]\ntypes = [\n    "a.B"  # ]\n]\n',
            '[tool.queue2celery]\ntypes = [\n    "a.B",  # ]\n    "m.Task",\n]\n',
            id="multi-line-list",
        ),
        pytest.param(
            '[tool.queue2celery]\ntypes = ["m.Task"]\n',
            '[tool.queue2celery]\ntypes = ["m.Task"]\n',
            id="already-listed",
        ),
    ],
)
def test_init_adds_the_payload_classes_to_types_and_nothing_else(before: str, after: str) -> None:
    assert merge_types(before, ["m.Task"], "pyproject.toml") == after
    assert merge_types(after, ["m.Task"], "pyproject.toml") == after


def test_check_says_why_a_kept_put_stays_and_does_not_fail_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("plain", tmp_path)
    assert _cli(capsys, "init", str(root))[0] == 0
    assert _cli(capsys, "rewrite", str(root))[0] == 0
    code, out = _cli(capsys, "check", str(root))
    assert code == 0, out
    assert out.startswith(
        "shop/tasks/queue.py:34:17: Q2C001 warning: legacy queue put on shop.tasks.queue."
        "task_queue kept by rewrite: it re-queues from the consumer loop"
    ), out
    assert "run `queue2celery rewrite`" not in out
    # Suppressed like any finding of its code.
    queue_py = root / "shop" / "tasks" / "queue.py"
    text = queue_py.read_text(encoding="utf-8")
    queue_py.write_text(
        text.replace("task_queue.put(job)\n", "task_queue.put(job)  # q2c: ignore[Q2C001]\n"),
        encoding="utf-8",
    )
    assert _cli(capsys, "check", str(root)) == (0, "")
