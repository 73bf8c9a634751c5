"""The whole migration on the bundled example app, in a temporary copy.

scan -> parity (a real worker process) -> rewrite as a diff -> rewrite -> check. The
library returns each step's result through ``on_step`` as it finishes; the CLI renders.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .migrate import CheckResult, RewriteResult, ScanResult, check, load_config, rewrite, scan
from .parity import ParityReport
from .parity import run as run_parity

__all__ = ["DEMO_STEPS", "DemoResult", "example_path", "run_demo"]

DEMO_STEPS = ("scan", "parity", "diff", "rewrite", "check")


@dataclass(frozen=True)
class DemoResult:
    """Every step's result; ``workdir`` is gone unless the demo was asked to keep it."""

    workdir: Path
    broker: str
    scan: ScanResult
    parity: ParityReport
    diff: RewriteResult
    rewrite: RewriteResult
    check: CheckResult


def example_path() -> Path:
    """The example app shipped next to the package (``examples/legacy_app``)."""
    path = Path(__file__).resolve().parents[1] / "examples" / "legacy_app"
    if not (path / "pyproject.toml").is_file():
        raise ConfigError(
            f"the example app is not at {str(path)!r}; run the demo from a checkout "
            "installed with 'pip install -e .'"
        )
    return path


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
        config = load_config(workdir)
        scanned = scan(workdir, config, jobs=1)
        on_step("scan", scanned)
        report = run_parity(workdir / "parity_workload.py", redis_url=redis_url, timeout=timeout)
        on_step("parity", report)
        diff = rewrite(workdir, config, dry_run=True, jobs=1)
        on_step("diff", diff)
        applied = rewrite(workdir, config, jobs=1)
        on_step("rewrite", applied)
        remaining = check(workdir, config, jobs=1)
        on_step("check", remaining)
    finally:
        if not keep:
            shutil.rmtree(parent, ignore_errors=True)
    return DemoResult(
        workdir=workdir,
        broker="embedded" if redis_url is None else "redis",
        scan=scanned,
        parity=report,
        diff=diff,
        rewrite=applied,
        check=remaining,
    )
