"""scan on realistic apps of our own making (tests/migrate/apps): every line marked
``# SITE: <kind> [risk ...]`` is found with that kind and those risks, every line marked
``# CANDIDATE`` is a candidate, and nothing else is reported (look-alikes sit next to the
real sites, unmarked)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from queue2celery.migrate import MigrateConfig, scan

APPS = Path(__file__).parent / "apps"
_MARK = re.compile(r"#\s*(SITE|CANDIDATE)\b:?\s*([\w\- ]*)$")


def _marks(root: Path) -> tuple[dict[tuple[str, int], tuple[str, set[str]]], set[tuple[str, int]]]:
    sites: dict[tuple[str, int], tuple[str, set[str]]] = {}
    candidates: set[tuple[str, int]] = set()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root.parent).as_posix()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            match = _MARK.search(line)
            if not match:
                continue
            if match.group(1) == "CANDIDATE":
                candidates.add((rel, n))
            else:
                kind, *risks = match.group(2).split()
                sites[(rel, n)] = (kind, set(risks))
    return sites, candidates


@pytest.fixture
def app_copy(tmp_path: Path):
    def make(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(APPS / name, target)
        return target

    return make


@pytest.mark.parametrize("name", sorted(p.name for p in APPS.iterdir() if p.is_dir()))
def test_scan_finds_every_marked_site_and_nothing_else(name: str, app_copy) -> None:
    root = app_copy(name)
    expected, expected_candidates = _marks(root)
    result = scan(root.parent, MigrateConfig(), jobs=1)
    assert result.errors == ()
    found = {(s.path, s.line): (s.kind, {r.code for r in s.risks}) for s in result.sites}
    assert {k: v[0] for k, v in found.items()} == {k: v[0] for k, v in expected.items()}
    for where, (_kind, risks) in expected.items():
        assert risks <= found[where][1], f"{where}: {found[where][1]} lacks {risks}"
    assert {(c.path, c.line) for c in result.candidates} == expected_candidates


MEDIA_API_MAPPING = """
[tool.queue2celery.queues]
"media_api.core.events.event_queue" = "media_api.tasks.handle_event"

[tool.queue2celery.functions]
"media_api.routes.users.send_welcome_email" = "media_api.tasks.send_welcome_email"
"media_api.routes.users.resize_avatar" = "media_api.tasks.resize_avatar"
"media_api.routes.videos.send_webhook" = "media_api.tasks.send_webhook"
"""


def test_rewrite_of_the_real_app_imports_and_check_reports_what_remains(app_copy) -> None:
    import subprocess
    import sys

    from queue2celery.migrate import check, load_config, rewrite

    root = app_copy("media_api").parent
    (root / "pyproject.toml").write_text(MEDIA_API_MAPPING, encoding="utf-8")
    config = load_config(root)
    before = {s.line for s in scan(root, config, jobs=1).sites if s.path.endswith("users.py")}
    result = rewrite(root, config, jobs=1)
    assert result.ok, result.errors
    users = (root / "media_api" / "routes" / "users.py").read_text(encoding="utf-8")
    assert "send_welcome_email_task.delay(email)" in users
    assert 'resize_avatar_task.delay(f"/avatars/{email}.png")' in users
    assert "loop.run_in_executor(None, audit_log, 1)" in users  # audit_log is not mapped
    assert "worker.join()" in users  # the joined thread is not fire-and-forget
    events = (root / "media_api" / "core" / "events.py").read_text(encoding="utf-8")
    assert 'handle_event.delay({"kind": kind, "payload": payload})' in events
    assert rewrite(root, config, jobs=1).changes == ()  # idempotent
    code = "import media_api.main, media_api.routes.users, media_api.routes.videos"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    remaining = {(f.path, f.line) for f in check(root, config, jobs=1).findings}
    after = {s.line for s in scan(root, config, jobs=1).sites if s.path.endswith("users.py")}
    assert len(after) == len(before) - 3  # the thread and the submit rewritten; the
    # wrapper's own put became a task, so its caller is no longer an enqueue site
    assert any(p.endswith("task_manager.py") for p, _ in remaining)  # not mapped: still there
