"""``queue2celery init`` on realistic apps: what it writes, reuses and refuses (static: the
worker end-to-end runs are in tests/migrate/test_init_worker.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from _init_apps import make_app, snapshot

from queue2celery.cli import main


def _init(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str]:
    code = main(["init", str(root), "-j", "1", *args])
    return code, capsys.readouterr().out


def _import_ok(root: Path, *modules: str) -> subprocess.CompletedProcess[str]:
    code = "import importlib, sys\nfor m in sys.argv[1:]:\n    importlib.import_module(m)\n"
    return subprocess.run(
        [sys.executable, "-c", code, *modules],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_init_on_a_plain_queue_app_extracts_the_handlers_dispatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("plain", tmp_path)
    code, out = _init(capsys, root)
    assert code == 0, out
    tasks = (root / "shop" / "celery_tasks.py").read_text(encoding="utf-8")
    assert 'handlers=_Live(lambda: importlib.import_module("shop.tasks.queue").HANDLERS)' in tasks
    assert "return job['type']" in tasks
    assert "return fn(**job['payload'])" in tasks
    assert "def dispatch_task_queue(item: Any) -> Any:" in tasks
    # The async background function is awaited, with the call sites' signature.
    assert "def notify_admin(message, *, urgent=False) -> None:" in tasks
    assert "resolve_awaitable(_notify_admin(message, urgent=urgent))" in tasks
    assert (root / "shop" / "celery_app.py").is_file()
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert '"shop.tasks.queue.task_queue" = "shop.celery_tasks.dispatch_task_queue"' in pyproject
    assert '"shop.services.email.notify_admin" = "shop.celery_tasks.notify_admin"' in pyproject
    assert "CHANGE_ME" not in pyproject
    assert pyproject.startswith('[project]\nname = "shop"\n')  # the rest left as it was
    assert "wrote shop/celery_tasks.py (new)" in out
    # The cleanup loop becomes a Beat entry the worker and beat import.
    schedule = (root / "shop" / "beat_schedule.py").read_text(encoding="utf-8")
    assert '"schedule": timedelta(minutes=10)' in schedule
    assert "from shop.tasks.cleanup import purge_expired_carts as run" in schedule
    assert "from shop.celery_tasks import celery_app" in schedule
    assert '"shop.beat_schedule"' in tasks


def test_a_second_init_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("plain", "manager", "reuse", "cycle"):
        root = make_app(name, tmp_path)
        assert _init(capsys, root)[0] == 0
        before = snapshot(root)
        code, out = _init(capsys, root)
        assert code == 0, out
        assert "nothing to change" in out
        assert snapshot(root) == before, name


def test_init_on_a_manager_wires_bound_async_handlers_and_the_dataclass_payload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    code, out = _init(capsys, root)
    assert code == 0, out
    tasks = (root / "notes" / "celery_tasks.py").read_text(encoding="utf-8")
    assert "def adopt_task_manager(queue: Any, owner: Any) -> CompatQueue:" in tasks
    assert "self.queue = adopt_task_manager(<what it builds now>, self)" in tasks
    assert "handlers=_Live(lambda: owner.handlers)" in tasks
    assert "return task.kind" in tasks
    assert "from notes.core.task_manager import Task" in tasks
    assert "types=(Task,)" in tasks
    # The dispatcher works on the module-level manager the worker imports.
    assert "from notes.core.task_manager import task_manager as owner" in tasks
    assert "celery_app.conf.imports" in tasks and '"notes.core.task_manager"' in tasks


def test_init_reuses_the_apps_celery_app_and_its_task(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("reuse", tmp_path)
    code, out = _init(capsys, root)
    assert code == 0, out
    assert "reused Celery app blog.core.celery_app:celery" in out
    assert "reused task blog.purge_drafts" in out
    assert not (root / "blog" / "celery_app.py").exists()
    tasks = (root / "blog" / "celery_tasks.py").read_text(encoding="utf-8")
    assert "from blog.core.celery_app import celery as celery_app" in tasks
    assert "def rebuild_cache(section) -> None:" in tasks
    assert "purge_drafts" not in tasks.split("# --- queue2celery init: generated")[1]
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    reused = '"blog.core.cleanup.purge_drafts" = "blog.core.celery_app.purge_drafts_task"'
    assert reused in pyproject


def test_init_imports_app_code_lazily_where_a_top_level_import_would_close_a_cycle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("cycle", tmp_path)
    assert _init(capsys, root)[0] == 0
    tasks = (root / "crm" / "celery_tasks.py").read_text(encoding="utf-8")
    assert "    from crm.services.reports import build_report as run  # no import cycle" in tasks
    # What rewrite will do: the site's module imports the tasks module at its top.
    deps = root / "crm" / "api" / "deps.py"
    deps.write_text(
        "from crm.celery_tasks import build_report as build_report_task\n"
        + deps.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    done = _import_ok(root, "crm.services.reports", "crm.celery_tasks", "crm.api.deps")
    assert done.returncode == 0, done.stderr


def test_two_celery_apps_without_app_is_an_error_that_lists_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("reuse", tmp_path)
    (root / "blog" / "worker_app.py").write_text(
        "from celery import Celery\n\nworker = Celery('blog-worker')\n", encoding="utf-8"
    )
    before = snapshot(root)
    code = main(["init", str(root), "-j", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "blog.core.celery_app:celery" in err and "blog.worker_app:worker" in err
    assert "--app" in err
    assert snapshot(root) == before
    code, out = _init(capsys, root, "--app", "blog.worker_app:worker")
    assert code == 0, out
    assert "from blog.worker_app import worker as celery_app" in (
        root / "blog" / "celery_tasks.py"
    ).read_text(encoding="utf-8")


def test_a_file_that_does_not_parse_is_reported_and_the_rest_goes_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("reuse", tmp_path)
    (root / "blog" / "broken.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    code, out = _init(capsys, root)
    assert "blog/broken.py: error:" in out
    assert (root / "blog" / "celery_tasks.py").is_file()
    assert code == 0


def test_a_hand_edited_region_is_left_alone_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("reuse", tmp_path)
    assert _init(capsys, root)[0] == 0
    tasks = root / "blog" / "celery_tasks.py"
    edited = tasks.read_text(encoding="utf-8").replace("def rebuild_cache(section)", "def x(s)")
    tasks.write_text(edited, encoding="utf-8")
    code, out = _init(capsys, root)
    assert code == 1
    assert "edited by hand" in out and "+def rebuild_cache(section)" in out
    assert tasks.read_text(encoding="utf-8") == edited
    code, out = _init(capsys, root, "--force")
    assert code == 0, out
    assert "def rebuild_cache(section)" in tasks.read_text(encoding="utf-8")


def test_code_outside_the_region_and_crlf_survive_a_new_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("reuse", tmp_path)
    assert _init(capsys, root)[0] == 0
    tasks = root / "blog" / "celery_tasks.py"
    mine = "\n\n# 我自己的任务\ndef mine() -> int:\n    return 1\n"
    text = (tasks.read_text(encoding="utf-8") + mine).replace("\n", "\r\n")
    tasks.write_bytes(text.encode("utf-8"))
    (root / "blog" / "api" / "more.py").write_text(
        textwrap.dedent(
            """\
            from fastapi import BackgroundTasks

            from blog.core.cleanup import rebuild_cache


            def more(background_tasks: BackgroundTasks, name: str) -> None:
                background_tasks.add_task(rebuild_cache, name)
            """
        ),
        encoding="utf-8",
    )
    assert _init(capsys, root)[0] == 0
    data = tasks.read_bytes().decode("utf-8")
    assert data.endswith(mine.replace("\n", "\r\n"))
    assert "\n" not in data.replace("\r\n", "")


def test_init_never_overwrites_a_module_it_did_not_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("reuse", tmp_path)
    mine = root / "blog" / "celery_tasks.py"
    mine.write_text("# 我们自己的\n", encoding="utf-8")
    code = main(["init", str(root), "-j", "1"])
    assert code == 2
    assert "--module" in capsys.readouterr().err
    assert mine.read_text(encoding="utf-8") == "# 我们自己的\n"
    code, out = _init(capsys, root, "--module", "q2c_tasks")
    assert code == 0, out
    assert (root / "blog" / "q2c_tasks.py").is_file()


def test_generated_modules_import_and_register_their_tasks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, module in (("reuse", "blog.celery_tasks"), ("cycle", "crm.celery_tasks")):
        root = make_app(name, tmp_path)
        assert _init(capsys, root)[0] == 0
        done = _import_ok(root, module)
        assert done.returncode == 0, done.stderr


def test_check_fails_until_an_init_stub_is_filled_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    manager = root / "notes" / "core" / "task_manager.py"
    # A consumer loop that is not a simple dispatch: init quotes it in a stub.
    manager.write_text(
        manager.read_text(encoding="utf-8").replace(
            "                await handler(task)\n",
            "                await self.before(task)\n"
            "                await handler(task, self.status)\n",
        ),
        encoding="utf-8",
    )
    code, out = _init(capsys, root)
    assert code == 1
    assert "stub to fill in: notes.celery_tasks.run_task_manager" in out
    tasks = root / "notes" / "celery_tasks.py"
    text = tasks.read_text(encoding="utf-8")
    assert "#         await handler(task, self.status)" in text  # the loop, quoted
    assert main(["check", str(root), "-j", "1"]) == 1
    assert "Q2C901 run_task_manager is a stub" in capsys.readouterr().out
    filled = text.replace("  # q2c: init-stub", "").replace(
        '    raise NotImplementedError("fill in run_task_manager")',
        "    return None",
    )
    tasks.write_text(filled, encoding="utf-8")
    main(["check", str(root), "-j", "1"])
    assert "Q2C901" not in capsys.readouterr().out


def test_init_reads_a_consumer_that_takes_items_through_run_in_executor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app("manager", tmp_path)
    manager = root / "notes" / "core" / "task_manager.py"
    manager.write_text(
        manager.read_text(encoding="utf-8")
        .replace(
            "            priority, _, task = self.queue.get()\n",
            "            loop = asyncio.get_running_loop()\n"
            "            priority, _, task = await loop.run_in_executor(None, self.queue.get)\n",
        )
        .replace("                await handler(task)\n", "                await self.run(task)\n"),
        encoding="utf-8",
    )
    code, out = _init(capsys, root)
    assert code == 0, out
    tasks = (root / "notes" / "celery_tasks.py").read_text(encoding="utf-8")
    assert "run=owner.run," in tasks
    assert "return resolve_awaitable((owner.run)(item))" in tasks
