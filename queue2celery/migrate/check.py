"""``check``: the legacy sites that remain, as ``path:line:col: Q2Cnnn message`` findings."""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Callable
from pathlib import Path

from ._advice import local_function_advice
from ._parallel import Progress
from ._stubmark import stub_message
from .config import MigrateConfig
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
_SPAWN_KINDS = frozenset({"create_task", "thread_start", "executor_submit"})
_MANAGER_KINDS = frozenset({"manager_add_task", "manager_enqueue"})
_IGNORE = re.compile(r"#\s*q2c:\s*ignore\[([A-Z0-9, ]+)\]")


# `task = asyncio.create_task(...)`, `t = threading.Thread(...)`: the start is bound to a
# name (its handle is used afterwards), so rewrite cannot replace the statement alone.
_BOUND = re.compile(r"^\s*[A-Za-z_]\w*(\s*:[^=]+)?\s*=\s*$")


def _message(
    site: Site, line: str = "", tree: Callable[[Site], ast.Module | None] | None = None
) -> str:
    what = _WHAT[site.kind].format(queue=site.queue or "an unresolved function")
    keep = next((r for r in site.risks if r.code == "sentinel"), None)
    if keep is not None:
        return f"{what}: {keep.message}"
    if site.captures:
        names = ", ".join(site.captures)
        return (
            f"{what} is a closure capturing {names}: move it to module level with {names} "
            "as parameters, then map it in [tool.queue2celery.functions]"
        )
    mismatch = next((r for r in site.risks if r.code == "kwargs"), None)
    if site.target and mismatch is not None:
        return f"{what}: rewrite leaves it: {mismatch.message}"
    if site.target and site.kind in _SPAWN_KINDS and _BOUND.match(line[: site.col - 1]):
        return (
            f"{what}: rewrite leaves it, its handle is kept ({line.strip()}): replace the "
            f"start with {site.target}.delay(...) by hand and drop the lines that use the "
            "handle (a set holding it, its done-callback, join)"
        )
    if site.target and site.kind == "queue_put" and line[: site.col - 1].endswith("await "):
        return (
            f"{what}: rewrite leaves an awaited put (an asyncio.Queue's): replace `await "
            f"....put(item)` with {site.target}.delay(item) by hand, without the await"
        )
    if site.target:
        return f"{what}: run `queue2celery rewrite` to call {site.target}.delay()"
    local = local_function_advice(site.queue or "", tree(site) if tree else None)
    if local is not None:
        return f"{what}: {local}"
    if site.kind in _MANAGER_KINDS:
        return (
            f"{what}: map the manager's queue (module.Class.attribute) in "
            "[tool.queue2celery.queues] (queue2celery init does), then rewrite changes the put "
            "inside its enqueue method and this call stays as it is"
        )
    table = "functions" if site.kind in _FUNCTION_KINDS else "queues"
    return f"{what} is not mapped: add it to [tool.queue2celery.{table}], then rewrite"


# Puts rewrite keeps on purpose (see _rules.SiteRules.kept_put): never a "run rewrite" finding.
_KEPT = {
    "requeue-in-consumer": (
        "kept by rewrite: it re-queues from the consumer loop that drains the same queue. "
        "It only runs while that legacy consumer does: once every producer is on Celery, "
        "retire the loop (for a retry or a delay use the task's retry, countdown or eta)"
    ),
    "startup-reload": (
        "kept by rewrite: it re-puts pending work at startup, and the broker keeps Celery's "
        "tasks itself; once the queue is on Celery, drop this reload (or it sends them all "
        "again on every start)"
    ),
}


def _kept(site: Site) -> str | None:
    host = next((r for r in site.risks if r.code == "host-bound"), None)
    if host is not None:
        # Work tied to this process or machine: no worker can take it over, so it is no
        # legacy queue left behind; rewrite leaves it, even when it is mapped.
        return f"{_WHAT[site.kind].format(queue=site.queue)} kept local by rewrite: {host.message}"
    if site.kind != "queue_put":
        return None
    code = next((r.code for r in site.risks if r.code in _KEPT), None)
    if code is None:
        return None
    return f"{_WHAT[site.kind].format(queue=site.queue)} {_KEPT[code]}"


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
        self.trees: dict[str, ast.Module | None] = {}

    def __call__(self, finding: Finding) -> bool:
        match = _IGNORE.search(self.line(finding.path, finding.line))
        if match is None:
            return False
        return finding.code in {c.strip() for c in match.group(1).split(",")}

    def tree(self, site: Site) -> ast.Module | None:
        """The site's module parsed, when its function is a ``<locals>`` name (to tell a
        parameter from a nested def); None otherwise."""
        if "<locals>" not in (site.queue or ""):
            return None
        if site.path not in self.trees:  # parsed once per file, and only when asked
            self.line(site.path, 1)  # reads the file
            text = "\n".join(self.lines.get(site.path, []))
            try:
                self.trees[site.path] = ast.parse(text)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                self.trees[site.path] = None
        return self.trees[site.path]

    def line(self, rel: str, number: int) -> str:
        """Line ``number`` (1-based) of file ``rel``, or ""."""
        if rel not in self.lines:
            path = self.base / rel
            try:
                # Only a regular file is read: a finding may name a FIFO scan listed.
                text = (
                    path.read_text(encoding="utf-8-sig", errors="replace") if path.is_file() else ""
                )
            except OSError:
                text = ""
            self.lines[rel] = text.splitlines()
        lines = self.lines[rel]
        return lines[number - 1] if 0 < number <= len(lines) else ""


def check(
    path: Path,
    config: MigrateConfig | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    use_cache: bool = False,
    stats: dict[str, int] | None = None,
) -> CheckResult:
    """Every legacy site still under ``path``; a file that does not parse is a finding too
    (it could hide sites), and so is a stub ``queue2celery init`` left to fill in.
    ``stats``: see :func:`.scan.scan`."""
    marks: list[tuple[str, int, str]] = []
    result = scan(
        path,
        config,
        jobs=jobs,
        progress=progress,
        on_total=on_total,
        use_cache=use_cache,
        marks=marks,
        stats=stats,
    )
    config = config or MigrateConfig()
    sites = [
        s
        for s in result.sites
        if not any(r.code == "sentinel" for r in s.risks)  # never a task: nothing to migrate
    ]
    warnings = [
        Finding(s.path, s.line, s.col, CHECK_CODES[s.kind], kept, warning=True)
        for s in sites
        if (kept := _kept(s)) is not None
    ]
    suppressed = _Suppressions(path)
    findings = [
        Finding(
            s.path,
            s.line,
            s.col,
            CHECK_CODES[s.kind],
            _message(s, suppressed.line(s.path, s.line), suppressed.tree),
        )
        for s in sites
        if _kept(s) is None
    ]
    findings += [
        Finding(c.path, c.line, c.col, CHECK_CODES["candidate"], _candidate_message(c))
        for c in result.candidates
    ]
    findings += [
        Finding(e.path, 1, 1, CHECK_CODES["parse_error"], f"cannot parse: {e.message}")
        for e in result.errors
    ]
    # init's stubs not filled in yet: read by scan from the bytes it read anyway.
    findings += [
        Finding(rel, line, 1, CHECK_CODES["init_stub"], stub_message(name))
        for rel, line, name in marks
    ]
    findings = [f for f in findings if not _ignored(f, config.ignore) and not suppressed(f)]
    findings.sort(key=lambda f: (f.path, f.line, f.col))
    warnings = [f for f in warnings if not _ignored(f, config.ignore) and not suppressed(f)]
    warnings.sort(key=lambda f: (f.path, f.line, f.col))
    return CheckResult(result.files_scanned, tuple(findings), tuple(warnings))
