"""rewrite and check on ``kb``, an app written apart from the code here (tests/migrate/
init_apps/kb): what a held-out app showed rewrite and check getting wrong."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _init_apps import make_app

from queue2celery.migrate import check, load_config, rewrite

MAPPING = """
[tool.queue2celery.queues]
"kb.core.events._events" = "kb.celery_tasks.dispatch_events"
"kb.core.legacy.audit_q" = "kb.celery_tasks.dispatch_audit_q"

[tool.queue2celery.functions]
"kb.services.indexer.embed_document" = "kb.celery_tasks.embed_document"
"kb.services.indexer.generate_report" = "kb.celery_tasks.generate_report"
"kb.services.indexer.index_document" = "kb.celery_tasks.index_document"
"kb.services.indexer.remove_upload" = "kb.celery_tasks.remove_upload"
"""


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    """The held-out app with every function mapped, the host-bound one too (by hand)."""
    root = make_app("kb", tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + MAPPING)
    return root


def test_a_host_bound_background_task_is_kept_local_even_when_mapped(kb: Path) -> None:
    before = (kb / "kb/api/docs.py").read_text()
    result = rewrite(kb, load_config(kb), jobs=1)
    assert result.ok, result.errors
    docs = (kb / "kb/api/docs.py").read_text()
    assert "background_tasks.add_task(remove_upload, path)  # 必须在本机执行" in docs
    assert "async def upload(file: UploadFile, background_tasks: BackgroundTasks):" in docs
    assert "remove_upload.delay" not in docs
    assert "remove_upload" in docs.split("router = ")[0]  # its import stays
    assert docs != before  # the other sites of the file were rewritten
    assert (
        "kb/api/docs.py",
        "add_task of kb.services.indexer.remove_upload left unchanged: deletes a local file: "
        "this must run on this host, keep it local",
    ) in result.warnings


def test_check_reports_a_kept_host_bound_site_as_a_warning_that_does_not_fail(
    kb: Path,
) -> None:
    rewrite(kb, load_config(kb), jobs=1)
    result = check(kb, load_config(kb), jobs=1)
    kept = [
        w for w in result.warnings if w.path == "kb/api/docs.py" and "remove_upload" in w.message
    ]
    assert len(kept) == 1, result.warnings
    assert kept[0].message == (
        "BackgroundTasks.add_task of kb.services.indexer.remove_upload kept local by rewrite: "
        "deletes a local file: this must run on this host, keep it local"
    )
    assert not [f for f in result.findings if "remove_upload" in f.message]


def _ruff_isort(root: Path) -> subprocess.CompletedProcess[str]:
    """ruff's import-sorting rule (isort's layout) over the app, the tasks module aside."""
    ruff = Path(sys.executable).with_name("ruff")
    return subprocess.run(
        [str(ruff), "check", "--no-cache", "--isolated", "--select", "I", "--line-length", "100"]
        + ["--exclude", "kb/celery_tasks.py", "kb"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_new_imports_land_in_the_first_party_group_sorted_or_in_a_group_of_their_own(
    kb: Path,
) -> None:
    assert _ruff_isort(kb).returncode == 0  # the app's imports are sorted to begin with
    rewrite(kb, load_config(kb), jobs=1)
    done = _ruff_isort(kb)
    assert done.returncode == 0, done.stdout
    events = (kb / "kb/core/events.py").read_text()
    assert (
        "import threading\n\nimport httpx\n\nfrom kb.celery_tasks import dispatch_events\n\n"
        '_events: "queue.Queue[dict]"'
    ) in events
    legacy = (kb / "kb/core/legacy.py").read_text()
    assert (
        "from typing import Optional\n\nfrom kb.celery_tasks import dispatch_audit_q\n\n\n"
        "class Notifier:"
    ) in legacy
    reports = (kb / "kb/api/reports.py").read_text()
    assert reports.startswith(
        '"""报表接口：工厂函数拿到单例管理器，另有一个类通过构造函数注入。"""\n'
        "from fastapi import APIRouter\n\n"
        "from kb.celery_tasks import generate_report\n"
        "from kb.core.jobs import JobManager\n"
        "from kb.deps import get_manager\n\n"
        'router = APIRouter(prefix="/reports")\n'
    )
    docs = (kb / "kb/api/docs.py").read_text()
    assert (
        "from starlette.background import BackgroundTask\n\n"
        "from kb.celery_tasks import index_document as index_document_task\n"
        "from kb.core.events import send_event\n"
    ) in docs
    # A second run changes nothing.
    again = rewrite(kb, load_config(kb), jobs=1)
    assert not again.changes, [c.diff for c in again.changes]
