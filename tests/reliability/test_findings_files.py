"""Issue 14: filesystem and config problems are one-line errors, never tracebacks.

Only regular files are opened: a ``.py`` FIFO would block a reader forever, so the tests
that make one run the CLI with a timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.reliability

TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "', '.py", line ')
APP = """\
import queue

# 任务队列
task_queue = queue.Queue()


def enqueue(job):
    task_queue.put(job)
"""


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "app" / "jobs").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("", encoding="utf-8")
    (root / "app" / "queues.py").write_text(APP, encoding="utf-8")
    (root / "app" / "jobs" / "__init__.py").write_text("", encoding="utf-8")
    (root / "app" / "jobs" / "work.py").write_text("x = 1\n", encoding="utf-8")
    return root


def _cli(*argv: str, cwd: Path, user: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*(user or []), sys.executable, "-m", "queue2celery.cli", *argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_error(proc: subprocess.CompletedProcess, *words: str) -> None:
    text = proc.stdout + proc.stderr
    assert not any(mark in text for mark in TRACEBACK_MARKS), text
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert all(w in lines[0] for w in words), lines[0]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"tool = 5\n", ("[tool]", "must be a table")),
        (b"[tool]\nqueue2celery = 5\n", ("[tool.queue2celery]", "must be a table")),
        ("[tool.queue2celery]\n".encode("utf-16"), ("not UTF-8",)),
        (b"[tool.queue2celery\n", ("not valid TOML",)),
    ],
    ids=["tool-is-an-int", "queue2celery-is-an-int", "utf-16", "broken-toml"],
)
@pytest.mark.parametrize("command", ["scan", "rewrite", "check", "init"])
def test_a_bad_pyproject_is_a_one_line_error(
    tmp_path: Path, content: bytes, words: tuple[str, ...], command: str
) -> None:
    root = _tree(tmp_path)
    (root / "pyproject.toml").write_bytes(content)
    argv = [command, str(root)] + (["--diff"] if command == "rewrite" else [])
    proc = _cli(*argv, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr  # bad input: 2; 1 is for findings
    _one_line_error(proc, "pyproject.toml", *words)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="os.mkfifo needs a POSIX system")
def test_a_py_fifo_in_the_tree_is_listed_and_never_opened(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    os.mkfifo(root / "app" / "jobs" / "pipe.py")
    scan = _cli("scan", str(root), "--json", cwd=tmp_path)
    doc = json.loads(scan.stdout)
    assert any(e["path"] == "app/jobs/pipe.py" and "FIFO" in e["message"] for e in doc["errors"])
    assert doc["files_scanned"] == 5 and len(doc["errors"]) == 1  # the others were read
    rewrite = _cli("rewrite", str(root), "--diff", cwd=tmp_path)
    check = _cli("check", str(root), cwd=tmp_path)
    # scan's own exit 1 on errors is issue 15's scan fix (the CLI), not this finding's.
    assert scan.returncode in (0, 1)
    for proc in (scan, rewrite, check):
        assert proc.returncode in (0, 1) if proc is scan else proc.returncode == 1, proc.stderr
        assert not any(m in proc.stdout + proc.stderr for m in TRACEBACK_MARKS)
    assert "pipe.py" in rewrite.stdout + rewrite.stderr


def test_an_unlistable_folder_is_listed_under_errors_in_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests may run as root, who can list any folder: refuse it the way the kernel would.
    from queue2celery.migrate import scan

    root = _tree(tmp_path)
    locked = root / "app" / "jobs"
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(os.fsdecode(path)) == locked:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", os.fsdecode(path))  # type: ignore[arg-type]
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    result = scan(root, jobs=1)
    errors = {e.path: e.message for e in result.errors}
    assert "app/jobs" in errors and "Permission denied" in errors["app/jobs"], errors
    assert len(result.errors) == 1 and result.files_scanned == 3  # what could be listed


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("runuser") is None,
    reason="needs root and runuser to run the CLI as another user (root reads any folder)",
)
def test_an_unreadable_folder_is_listed_under_errors_for_a_real_user() -> None:
    import tempfile

    probe = subprocess.run(
        ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import queue2celery"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip(f"user nobody cannot run this Python: {probe.stderr.strip()[:200]}")
    # pytest's tmp_path is private to root; the other user needs to reach the tree.
    base = Path(tempfile.mkdtemp(prefix="q2c-unreadable-"))
    try:
        base.chmod(0o755)
        root = _tree(base)
        (root / "app" / "jobs").chmod(0)
        proc = _cli("scan", str(root), "--json", cwd=base, user=["runuser", "-u", "nobody", "--"])
    finally:
        (base / "proj" / "app" / "jobs").chmod(0o755)
        shutil.rmtree(base)
    assert not any(m in proc.stdout + proc.stderr for m in TRACEBACK_MARKS), proc.stderr
    doc = json.loads(proc.stdout)
    assert any(e["path"] == "app/jobs" for e in doc["errors"]), doc["errors"]
    assert proc.returncode in (0, 1)  # scan's exit 1 on errors: issue 15's scan fix
