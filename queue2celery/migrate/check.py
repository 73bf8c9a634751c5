"""``check``: the legacy sites that remain, as ``path:line:col: Q2Cnnn message`` findings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._parallel import Progress
from .config import MigrateConfig
from .init.stubs import stub_findings
from .results import CHECK_CODES, CheckResult, Finding, Site
from .scan import scan

__all__ = ["check"]

_WHAT = {
    "queue_put": "legacy queue put on {queue}",
    "background_task": "BackgroundTasks.add_task of {queue}",
    "manager_add_task": "task manager add_task on {queue}",
}


def _message(site: Site) -> str:
    what = _WHAT[site.kind].format(queue=site.queue or "an unresolved function")
    if site.target:
        return f"{what}: run `queue2celery rewrite` to call {site.target}.delay()"
    table = "functions" if site.kind == "background_task" else "queues"
    return f"{what} is not mapped: add it to [tool.queue2celery.{table}], then rewrite"


def check(
    path: Path,
    config: MigrateConfig | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> CheckResult:
    """Every legacy site still under ``path``; a file that does not parse is a finding too
    (it could hide sites)."""
    result = scan(path, config, jobs=jobs, progress=progress, on_total=on_total)
    findings = [
        Finding(s.path, s.line, s.col, CHECK_CODES[s.kind], _message(s)) for s in result.sites
    ]
    findings += [
        Finding(e.path, 1, 1, CHECK_CODES["parse_error"], f"cannot parse: {e.message}")
        for e in result.errors
    ]
    findings += stub_findings(path)
    findings.sort(key=lambda f: (f.path, f.line, f.col))
    return CheckResult(result.files_scanned, tuple(findings))
