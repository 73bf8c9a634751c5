"""The scan / rewrite / check commands, in process through ``queue2celery.cli.main``."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest

from queue2celery.cli import main

ROUTES = """\
from app.tasks.queue import task_queue


def enqueue(x):
    task_queue.put(x, timeout=5)
"""
LEGACY = "from queue2celery.legacy_queue import TaskQueue\nq = TaskQueue()\n"
CLEAN = "def nothing():\n    return 1\n"
BROKEN = "def broken(:\n    pass\n"
FINDING = re.compile(
    r"^(?P<path>[^:]+):(?P<line>\d+):(?P<col>\d+): (?P<code>Q2C\d{3}) (?P<msg>.+)$"
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _old_mtime(path: Path) -> int:
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    return path.stat().st_mtime_ns


def test_scan_json_prints_the_document_and_exits_0(project, capsys) -> None:
    root = project({"app/api/routes.py": ROUTES})
    code, out, _ = _run(capsys, "scan", str(root), "--json", "-j", "1")
    assert code == 0
    doc = json.loads(out)
    assert doc["sites"][0]["path"] == "app/api/routes.py"
    assert doc["sites"][0]["target"] == "app.celery_tasks.process_task"


def test_scan_text_proposes_a_table_for_unmapped_queues(project, capsys) -> None:
    root = project(
        {
            "app/tasks/legacy.py": LEGACY,
            "app/api/routes.py": "from app.tasks.legacy import q\nq.put(1)\n",
        }
    )
    code, out, _ = _run(capsys, "scan", str(root))
    assert code == 0
    assert "app/api/routes.py:2:1: queue_put app.tasks.legacy.q -> (unmapped)" in out
    assert '[tool.queue2celery.queues]\n"app.tasks.legacy.q" = "CHANGE_ME.tasks.q"' in out


def test_check_prints_findings_and_exits_1_while_sites_remain(project, capsys) -> None:
    root = project({"app/api/routes.py": ROUTES, "app/broken.py": BROKEN})
    code, out, _ = _run(capsys, "check", str(root))
    assert code == 1
    lines = out.splitlines()
    parsed = [FINDING.match(line) for line in lines]
    assert all(parsed), lines
    assert [(m["path"], m["line"], m["col"], m["code"]) for m in parsed if m] == [
        ("app/api/routes.py", "5", "5", "Q2C001"),
    ]


def test_check_reports_a_file_that_does_not_parse(project, capsys) -> None:
    root = project(
        {
            "app/broken.py": "from app.tasks.queue import task_queue\n"
            + BROKEN
            + "task_queue.put(1)\n"
        }
    )
    code, out, _ = _run(capsys, "check", str(root))
    assert code == 1
    assert out.startswith("app/broken.py:1:1: Q2C900 cannot parse")


def test_check_exits_0_once_everything_is_rewritten(project, capsys) -> None:
    root = project({"app/api/routes.py": ROUTES, "app/clean.py": CLEAN})
    assert _run(capsys, "rewrite", str(root))[0] == 0
    code, out, _ = _run(capsys, "check", str(root))
    assert (code, out) == (0, "")
    assert (root / "app/api/routes.py").read_text() == ROUTES.replace(
        "from app.tasks.queue import task_queue", "from app.celery_tasks import process_task"
    ).replace("task_queue.put(x, timeout=5)", "process_task.delay(x)")


def test_rewrite_diff_prints_a_unified_diff_and_writes_nothing(project, capsys) -> None:
    root = project({"app/api/routes.py": ROUTES})
    target = root / "app/api/routes.py"
    mtime = _old_mtime(target)
    code, out, _ = _run(capsys, "rewrite", str(root), "--diff")
    assert code == 0
    assert out.startswith("--- a/app/api/routes.py\n+++ b/app/api/routes.py\n")
    assert "-    task_queue.put(x, timeout=5)\n+    process_task.delay(x)\n" in out
    assert target.read_text() == ROUTES
    assert target.stat().st_mtime_ns == mtime


def test_rewrite_leaves_unchanged_files_untouched_and_keeps_the_mode(project, capsys) -> None:
    root = project({"app/api/routes.py": ROUTES, "app/clean.py": CLEAN})
    clean = root / "app/clean.py"
    routes = root / "app/api/routes.py"
    routes.chmod(0o640)
    clean_mtime = _old_mtime(clean)
    assert _run(capsys, "rewrite", str(root), "-j", "2")[0] == 0
    assert clean.stat().st_mtime_ns == clean_mtime
    assert stat.S_IMODE(routes.stat().st_mode) == 0o640
    assert not [p for p in root.rglob("*") if "q2c-tmp" in p.name]
    rewritten_mtime = _old_mtime(routes)
    assert _run(capsys, "rewrite", str(root))[0] == 0  # a second run changes nothing
    assert routes.stat().st_mtime_ns == rewritten_mtime


def test_rewrite_skips_a_file_that_does_not_parse_and_exits_1(project, capsys) -> None:
    root = project({"app/api/routes.py": ROUTES, "app/broken.py": ROUTES + BROKEN})
    broken_before = (root / "app/broken.py").read_bytes()
    code, _, err = _run(capsys, "rewrite", str(root))
    assert code == 1
    assert "app/broken.py: error: ParserSyntaxError" in err
    assert (root / "app/broken.py").read_bytes() == broken_before
    assert "process_task.delay(x)" in (root / "app/api/routes.py").read_text()


def test_rewrite_never_writes_through_a_symlink(project, capsys, tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text(ROUTES)
    root = project({"app/api/routes.py": CLEAN})
    os.symlink(outside, root / "app/api/linked.py")
    assert _run(capsys, "rewrite", str(root))[0] == 0
    assert outside.read_text() == ROUTES
    assert (root / "app/api/linked.py").is_symlink()


def test_config_option_overrides_the_nearest_pyproject(project, capsys, tmp_path: Path) -> None:
    root = project({"app/api/routes.py": ROUTES})
    other = tmp_path / "other.toml"
    other.write_text('[tool.queue2celery.queues]\n"app.tasks.queue.task_queue" = "x.tasks.run"\n')
    code, out, _ = _run(capsys, "scan", str(root), "--json", "--config", str(other))
    assert code == 0
    assert json.loads(out)["sites"][0]["target"] == "x.tasks.run"


def test_an_invalid_mapping_is_a_clear_error(project, capsys, tmp_path: Path) -> None:
    root = project(
        {"app/api/routes.py": ROUTES}, pyproject='[tool.queue2celery.queues]\n"a.q" = "notdotted"\n'
    )
    code, _, err = _run(capsys, "scan", str(root))
    assert code == 2  # bad input; 1 is for findings
    assert "'notdotted'" in err and "fully qualified name" in err


def test_progress_bar_goes_to_stderr_on_a_terminal_for_a_large_tree(
    project, capsys, monkeypatch
) -> None:
    import sys

    import click._termui_impl

    import queue2celery.cli._migrate as cli_module

    root = project({"app/api/routes.py": ROUTES})
    code, out, err = _run(capsys, "scan", str(root), "--json")
    assert "scanning" not in err  # not a terminal: no bar
    monkeypatch.setattr(cli_module, "_PROGRESS_MIN_FILES", 1)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(click._termui_impl, "isatty", lambda stream: True)
    code, out, err = _run(capsys, "scan", str(root), "--json")
    assert code == 0
    assert "scanning" in err
    assert json.loads(out)["files_scanned"] == 3  # stdout stays pure JSON


def test_rewrite_says_what_it_chose_for_a_site_inside_async_def(tmp_path, capsys) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("", "utf-8")
    (tmp_path / "app" / "mail.py").write_text("def send(to):\n    pass\n", "utf-8")
    (tmp_path / "app" / "tasks.py").write_text(
        "from celery import shared_task\n\n\n@shared_task\ndef send_task(to):\n    pass\n", "utf-8"
    )
    (tmp_path / "app" / "api.py").write_text(
        "from fastapi import BackgroundTasks\n\nfrom app.mail import send\n\n\n"
        "async def signup(background_tasks: BackgroundTasks, to: str):\n"
        "    background_tasks.add_task(send, to)\n",
        "utf-8",
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.queue2celery.functions]\n"app.mail.send" = "app.tasks.send_task"\n', "utf-8"
    )
    assert main(["rewrite", str(tmp_path), "--diff", "-j", "1"]) == 0
    out, err = capsys.readouterr()
    assert "+    send_task.delay(to)\n" in out
    assert "in async def signup: rewritten as a plain .delay() call" in err
    assert "run_in_threadpool" in err
