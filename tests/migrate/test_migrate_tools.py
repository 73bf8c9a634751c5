"""The codemods also run under ``python -m libcst.tool codemod``; the pre-commit hook file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROUTES = "from ..tasks.queue import task_queue\n\n\ndef f(x):\n    task_queue.put(x, timeout=1)\n"


def test_queue_put_codemod_runs_under_libcst_tool(project) -> None:
    root = project({"app/api/routes.py": ROUTES})
    command = "queue2celery.migrate.codemods.queue_put.ReplaceQueuePutCommand"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "libcst.tool",
            "codemod",
            "-x",
            "--no-format",
            "--hide-progress",
            command,
            "app",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (root / "app/api/routes.py").read_text() == (
        "from app.celery_tasks import process_task\n\n\ndef f(x):\n    process_task.delay(x)\n"
    )


def test_pre_commit_hook_runs_check_on_the_tree() -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = hooks
    assert hook["id"] == "queue2celery-check"
    assert hook["entry"] == "queue2celery check"
    assert hook["args"] == ["."]
    assert hook["pass_filenames"] is False
