"""``check``: the legacy sites that remain, as ``path:line:col: Q2Cnnn message`` findings."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from pathlib import Path

from ._parallel import Progress
from .config import MigrateConfig
from .init.stubs import stub_findings
from .results import CHECK_CODES, Candidate, CheckResult, Finding, Site
from .scan import scan

__all__ = ["check"]

_WHAT = {
    "queue_put": "legacy queue put on {queue}",
    "background_task": "BackgroundTasks.add_task of {queue}",
    "manager_add_task": "task manager add_task on {queue}",
    "manager_enqueue": "task manager enqueue through {queue}",
    "create_task": "fire-and-forget asyncio task running {queue}",
    "thread_start": "fire-and-forget thread running {queue}",
    "executor_submit": "fire-and-forget executor job running {queue}",
}
_FUNCTION_KINDS = frozenset({"background_task", "create_task", "thread_start", "executor_submit"})
_IGNORE = re.compile(r"#\s*q2c:\s*ignore\[([A-Z0-9, ]+)\]")


def _message(site: Site) -> str:
    what = _WHAT[site.kind].format(queue=site.queue or "an unresolved function")
    keep = next((r for r in site.risks if r.code in ("host-bound", "sentinel")), None)
    if keep is not None:
        return f"{what}: {keep.message}"
    if site.captures:
        names = ", ".join(site.captures)
        return (
            f"{what} is a closure capturing {names}: move it to module level with {names} "
            "as parameters, then map it in [tool.queue2celery.functions]"
        )
    if site.target:
        return f"{what}: run `queue2celery rewrite` to call {site.target}.delay()"
    table = "functions" if site.kind in _FUNCTION_KINDS else "queues"
    return f"{what} is not mapped: add it to [tool.queue2celery.{table}], then rewrite"


def _candidate_message(c: Candidate) -> str:
    return (
        f"likely legacy site {c.receiver}.{c.method}(): {c.reason}; give it a type scan can "
        "follow, or add `# q2c: ignore[Q2C003]` if it is not a task"
    )


def _ignored(finding: Finding, ignore: tuple[str, ...]) -> bool:
    """``ignore`` entries: a code (``Q2C003``), a path glob (``legacy/*.py``) or both
    (``legacy/*.py:Q2C003``)."""
    for entry in ignore:
        where, _, code = entry.rpartition(":") if ":" in entry else ("", "", entry)
        if not where and not _CODE.match(code):
            where, code = code, ""
        if code and code != finding.code:
            continue
        if where and not fnmatch.fnmatch(finding.path, where):
            continue
        return True
    return False


_CODE = re.compile(r"^Q2C\d{3}$")


class _Suppressions:
    """``# q2c: ignore[CODE]`` comments, read from the files that have findings."""

    def __init__(self, root: Path) -> None:
        self.base = root if root.is_dir() else root.parent
        self.lines: dict[str, list[str]] = {}

    def __call__(self, finding: Finding) -> bool:
        if finding.path not in self.lines:
            path = self.base / finding.path
            try:
                # Only a regular file is read: a finding may name a FIFO scan listed.
                text = (
                    path.read_text(encoding="utf-8-sig", errors="replace")
                    if path.is_file()
                    else ""
                )
            except OSError:
                text = ""
            self.lines[finding.path] = text.splitlines()
        lines = self.lines[finding.path]
        if not 0 < finding.line <= len(lines):
            return False
        match = _IGNORE.search(lines[finding.line - 1])
        if match is None:
            return False
        return finding.code in {c.strip() for c in match.group(1).split(",")}


def check(
    path: Path,
    config: MigrateConfig | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    use_cache: bool = False,
) -> CheckResult:
    """Every legacy site still under ``path``; a file that does not parse is a finding too
    (it could hide sites)."""
    result = scan(
        path, config, jobs=jobs, progress=progress, on_total=on_total, use_cache=use_cache
    )
    config = config or MigrateConfig()
    findings = [
        Finding(s.path, s.line, s.col, CHECK_CODES[s.kind], _message(s))
        for s in result.sites
        if not any(r.code == "sentinel" for r in s.risks)  # never a task: nothing to migrate
    ]
    findings += [
        Finding(c.path, c.line, c.col, CHECK_CODES["candidate"], _candidate_message(c))
        for c in result.candidates
    ]
    findings += [
        Finding(e.path, 1, 1, CHECK_CODES["parse_error"], f"cannot parse: {e.message}")
        for e in result.errors
    ]
    findings += stub_findings(path)
    suppressed = _Suppressions(path)
    findings = [f for f in findings if not _ignored(f, config.ignore) and not suppressed(f)]
    findings.sort(key=lambda f: (f.path, f.line, f.col))
    return CheckResult(result.files_scanned, tuple(findings))
