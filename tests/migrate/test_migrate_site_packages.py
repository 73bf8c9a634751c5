"""Robustness on thousands of files no one here wrote: the test virtualenv's site-packages.

Scan must not crash, rewrite (dry run, with every queue scan found mapped) must write
nothing, every rewritten output must parse again and a second pass must change nothing.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

import libcst as cst

from queue2celery.migrate import MigrateConfig, collect_files, rewrite, rewrite_source, scan

SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])
JOBS = os.cpu_count() or 1


def test_scan_and_dry_run_rewrite_over_the_whole_site_packages() -> None:
    found = scan(SITE_PACKAGES, MigrateConfig(), jobs=JOBS)
    assert found.files_scanned > 1000
    assert all(e.message for e in found.errors)  # reported, not raised

    # Map every queue and function scan found, so the dry run has real work to do.
    function_kinds = {"background_task", "create_task", "thread_start", "executor_submit"}
    usable = [s for s in found.sites if s.queue and "<locals>" not in s.queue]
    queue_sites = [s for s in usable if s.kind not in function_kinds]
    # A few functions are enough to exercise the spawn codemod on code no one here wrote;
    # each mapped name widens the files rewrite must parse.
    function_sites = [s for s in usable if s.kind in function_kinds][:8]
    config = MigrateConfig.from_mappings(
        {s.queue: f"q2c_robust.tasks.task{n}" for n, s in enumerate(queue_sites) if s.queue},
        {s.queue: f"q2c_robust.tasks.fn{n}" for n, s in enumerate(function_sites) if s.queue},
    )
    files = {f.rel: f for f in collect_files(SITE_PACKAGES)}
    before = {rel: f.path.stat().st_mtime_ns for rel, f in files.items()}

    result = rewrite(SITE_PACKAGES, config, dry_run=True, jobs=JOBS, scanned=found)

    assert {rel: f.path.stat().st_mtime_ns for rel, f in files.items()} == before
    if config.queues:
        assert result.changes, "the mapped queues scan found must be rewritten"
    for change in result.changes:
        f = files[change.path]
        source = f.path.read_bytes()
        new, _ = rewrite_source(source, config, module=f.module, is_package=f.is_package)
        assert new != source
        cst.parse_module(new.removeprefix(b"\xef\xbb\xbf"))
        again, _ = rewrite_source(new, config, module=f.module, is_package=f.is_package)
        assert again == new, f"second pass changed {change.path}"
