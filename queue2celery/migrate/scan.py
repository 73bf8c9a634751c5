"""``scan``: every legacy enqueue site and handler under a path, by meaning, fast on large
trees.

Only files whose text can hold a site or a handler registration are parsed (the
pre-filter); the modules that define the receivers they call (and the functions registered
as handlers) are parsed next, on demand, so a queue defined in one module and used in
another is still judged by its definition. Parsing runs on several processes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ._analyze import FileFacts, analyze
from ._files import (
    SourceFile,
    calls_enqueue,
    describe,
    iter_python_files,
    may_hold_site,
    split_bom,
    too_deeply_nested,
)
from ._link import Linker, modules_needed, owner_module
from ._parallel import Progress, parallel_map
from ._periodic import find_periodic
from .config import MigrateConfig
from .results import FileError, HandlerSite, ScanResult, Site

__all__ = ["collect_files", "scan"]

Job = tuple[str, str, str, bool, "frozenset[str] | None"]
# path, rel, module, is_package, mapped names for the ast filter (None: analyse regardless)


def collect_files(path: Path) -> list[SourceFile]:
    """Every Python file scan and rewrite consider under ``path``, with its module name."""
    base, files = iter_python_files(path)
    cache: dict[Path, list[str]] = {}
    return [describe(f, base, cache) for f in files]


def _analyze_job(job: Job) -> tuple[str, FileFacts]:
    path, rel, module, is_package, mapped = job
    try:
        with open(path, "rb") as handle:
            _, data = split_bom(handle.read())
        if mapped is not None and not calls_enqueue(data, mapped):
            return rel, FileFacts(module, parsed=False)
        reason = too_deeply_nested(data)
        if reason is not None:
            return rel, FileFacts(module, error=reason)
        return rel, analyze(data, module, is_package)
    except RecursionError:
        return rel, FileFacts(module, error="too deeply nested for the parser (RecursionError)")
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the scan
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return rel, FileFacts(module, error=f"{type(exc).__name__}: {first_line}")


def _crashed(job: Job) -> tuple[str, FileFacts]:
    return job[1], FileFacts(job[2], error="the parser crashed its process on this file")


def _job(f: SourceFile, mapped: frozenset[str] | None) -> Job:
    return (str(f.path), f.rel, f.module, f.is_package, mapped)


def _prefiltered(
    files: list[SourceFile], config: MigrateConfig
) -> tuple[list[SourceFile], list[FileError]]:
    names = config.mapped_names
    keep: list[SourceFile] = []
    errors: list[FileError] = []
    for f in files:
        try:
            data = f.path.read_bytes()
        except OSError as exc:
            errors.append(FileError(f.rel, f"cannot read: {exc.strerror or exc}"))
            continue
        if may_hold_site(data, names):
            keep.append(f)
    return keep, errors


def scan(
    path: Path,
    config: MigrateConfig | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    prefilter: bool = True,
    on_total: Callable[[int], None] | None = None,
) -> ScanResult:
    """Scan ``path`` (a folder or one file). ``prefilter=False`` parses every file (the slow,
    obvious way; kept for the benchmark, the findings are the same)."""
    config = config or MigrateConfig()
    files = collect_files(path)
    by_module = {f.module: f for f in files if f.module}
    errors: list[FileError] = []
    if prefilter:
        first, errors = _prefiltered(files, config)
    else:
        first = files
    if on_total:
        on_total(len(first))
    mapped = config.mapped_names if prefilter else None
    facts: dict[str, FileFacts] = {}
    done: set[str] = set()
    todo = first
    while todo:
        done.update(f.rel for f in todo)
        for rel, result in parallel_map(
            _analyze_job, [_job(f, mapped) for f in todo], jobs, progress, _crashed
        ):
            facts[rel] = result
        todo = []
        mapped = None  # modules needed for their definitions are analysed whatever they call
        for name in sorted(modules_needed(facts.values(), config)):
            owner = owner_module(name, by_module)
            if owner and by_module[owner].rel not in done and by_module[owner] not in todo:
                todo.append(by_module[owner])
    errors += [FileError(rel, f.error) for rel, f in facts.items() if f.error]
    linker = Linker((f for f in facts.values() if not f.error), config)
    sites: list[Site] = []
    for rel, f in facts.items():
        for call in f.calls:
            site = linker.site(rel, call)
            if site is not None:
                sites.append(site)
    sites.sort(key=lambda s: (s.path, s.line, s.col))
    handlers: list[HandlerSite] = []
    for rel, f in facts.items():
        for fact in f.handlers:
            handler = linker.handler(rel, fact)
            if handler is not None:
                handlers.append(handler)
    handlers.sort(key=lambda h: (h.path, h.line, h.col))
    errors.sort(key=lambda e: e.path)
    parsed = sum(1 for f in facts.values() if f.parsed)
    periodic, periodic_errors = find_periodic(files, config.periodic, jobs=jobs)
    errors = sorted([*errors, *periodic_errors], key=lambda e: e.path)
    return ScanResult(
        len(files), parsed, tuple(sites), tuple(errors), tuple(handlers), tuple(periodic)
    )
