"""The whole migration on the bundled example app, in a temporary copy, as the guide walks it.

scan -> step 2, the one-line adopt -> parity (a real worker process) -> the fixes parity asked
for, then parity again -> rewrite --diff and rewrite -> check. The demo never rewrites while
parity finds differences: if the fixes did not make it clean, it stops there and says why.
The library hands each step's result to ``on_step`` as it finishes; the CLI renders them.
"""

from __future__ import annotations

import difflib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .migrate import CheckResult, RewriteResult, ScanResult, check, load_config, rewrite, scan
from .parity import ParityReport
from .parity import run as run_parity

__all__ = [
    "DEMO_STEPS",
    "WORKLOADS",
    "DemoResult",
    "FileChange",
    "StepChanges",
    "example_path",
    "run_demo",
]

DEMO_STEPS = ("scan", "adopt", "parity", "fix", "rewrite", "check")
# The example's two parity workloads: the plain queue, and the task manager.
WORKLOADS = ("parity_workload.py", "parity_manager.py")
_EXAMPLES = Path(__file__).resolve().parent / "examples"


@dataclass(frozen=True)
class FileChange:
    """One file a step adds or changes in the copy, with its unified diff."""

    path: str
    added: bool
    diff: str


@dataclass(frozen=True)
class StepChanges:
    """What a guide step changed in the copy (the files it ships in ``legacy_app_steps``)."""

    step: str
    changes: tuple[FileChange, ...]


@dataclass(frozen=True)
class DemoResult:
    """Every step's result; ``stopped`` says why the demo ended early (None: it did not).

    ``workdir`` is gone unless the demo was asked to keep it.
    """

    workdir: Path
    broker: str
    scan: ScanResult
    adopt: StepChanges
    parity: tuple[ParityReport, ...]
    fix: StepChanges | None = None
    parity_after_fix: tuple[ParityReport, ...] = ()
    diff: RewriteResult | None = None
    rewrite: RewriteResult | None = None
    check: CheckResult | None = None
    stopped: str | None = None


def example_path() -> Path:
    """The example app shipped inside the package (``queue2celery/examples/legacy_app``)."""
    path = _EXAMPLES / "legacy_app"
    if not (path / "pyproject.toml").is_file() or not (_EXAMPLES / "legacy_app_steps").is_dir():
        raise ConfigError(
            f"the example app is not at {str(path)!r} (an install without package data?); "
            "reinstall queue2celery from its wheel or checkout: pip install ."
        )
    return path


def _apply(step: str, workdir: Path) -> StepChanges:
    """Copy the step's files over the copy; the diff of each, as a reviewer would read it."""
    source = _EXAMPLES / "legacy_app_steps" / step
    changes = []
    for new in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        relative = new.relative_to(source).as_posix()
        target = workdir / relative
        before = target.read_text(encoding="utf-8") if target.is_file() else ""
        after = new.read_text(encoding="utf-8")
        diff = "".join(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                f"a/{relative}" if before else "/dev/null",
                f"b/{relative}",
            )
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(after, encoding="utf-8")
        changes.append(FileChange(relative, not before, diff))
    return StepChanges(step.split("_", 1)[1], tuple(changes))


@contextmanager
def _app_redis(url: str) -> Iterator[None]:
    """The example's status store (and its Celery app) read REDIS_URL, as the app does in
    production; for the demo they must use the server parity runs on. Restored after."""
    saved = os.environ.get("REDIS_URL")
    os.environ["REDIS_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("REDIS_URL", None)
        else:
            os.environ["REDIS_URL"] = saved


def _parity_all(workdir: Path, url: str, timeout: float) -> tuple[ParityReport, ...]:
    return tuple(run_parity(workdir / name, redis_url=url, timeout=timeout) for name in WORKLOADS)


def run_demo(
    *,
    redis_url: str | None = None,
    keep: bool = False,
    on_step: Callable[[str, Any], None] = lambda step, result: None,
    timeout: float = 60.0,
) -> DemoResult:
    """Walk the migration on a copy of the example; ``redis_url`` None = embedded Redis."""
    source = example_path()
    parent = Path(tempfile.mkdtemp(prefix="q2c-demo-"))
    workdir = parent / "legacy_app"
    try:
        shutil.copytree(source, workdir, ignore=shutil.ignore_patterns("__pycache__"))
        if redis_url is None:
            from ._embedded import embedded_redis

            with embedded_redis() as url, _app_redis(url):
                return _walk(workdir, url, "embedded", on_step, timeout)
        with _app_redis(redis_url):
            return _walk(workdir, redis_url, "redis", on_step, timeout)
    finally:
        if not keep:
            shutil.rmtree(parent, ignore_errors=True)


def _walk(
    workdir: Path, url: str, broker: str, on_step: Callable[[str, Any], None], timeout: float
) -> DemoResult:
    config = load_config(workdir)
    scanned = scan(workdir, config, jobs=1)
    on_step("scan", scanned)
    adopted = _apply("2_adopt", workdir)
    on_step("adopt", adopted)
    found = _parity_all(workdir, url, timeout)
    on_step("parity", found)
    result = DemoResult(workdir, broker, scanned, adopted, found)
    if all(report.ok for report in found):
        fix = None
        after: tuple[ParityReport, ...] = found
    else:
        fix = _apply("4_fix", workdir)
        on_step("fix", fix)
        after = _parity_all(workdir, url, timeout)
        on_step("parity_after_fix", after)
    left = sum(len(report.mismatches) for report in after)
    if left:
        why = (
            f"parity still finds {left} difference(s) after the fixes; the guide rewrites only "
            "when parity is clean, so the demo stops here"
        )
        return replace(result, fix=fix, parity_after_fix=after, stopped=why)
    diff = rewrite(workdir, config, dry_run=True, jobs=1)
    on_step("diff", diff)
    applied = rewrite(workdir, config, jobs=1)
    on_step("rewrite", applied)
    remaining = check(workdir, config, jobs=1)
    on_step("check", remaining)
    return DemoResult(
        workdir,
        broker,
        scanned,
        adopted,
        found,
        fix,
        after,
        diff,
        applied,
        remaining,
    )
