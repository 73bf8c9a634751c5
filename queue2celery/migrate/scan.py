"""``scan``: every legacy enqueue site and handler under a path, by meaning, fast on large
trees.

Only files whose text can hold a site or a handler registration are parsed (the
pre-filter); the modules that define the receivers they call (and the functions registered
as handlers) are parsed next, on demand, so a queue defined in one module and used in
another is still judged by its definition. Parsing runs on several processes.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import NamedTuple

from ._cache import FactsCache
from ._facts import FileFacts
from ._files import (
    SourceFile,
    describe,
    iter_python_files,
    may_hold_site,
    split_bom,
    too_deeply_nested,
    tree_calls_enqueue,
)
from ._link import Linker, modules_needed, owner_module, words_needed
from ._parallel import Progress, parallel_map
from ._periodic import find_periodic, may_hold_periodic
from ._stubmark import stub_marks
from .config import MigrateConfig
from .results import Candidate, FileError, HandlerSite, ScanResult, Site

__all__ = ["collect_files", "scan"]


class Job(NamedTuple):
    """One file to analyse in a worker process."""

    path: str
    rel: str
    module: str
    is_package: bool
    mapped: frozenset[str] | None  # names for the ast filter (None: analyse regardless)


def collect_files(path: Path) -> list[SourceFile]:
    """Every Python file scan and rewrite consider under ``path``, with its module name."""
    return _collect(path)[1]


def _collect(path: Path) -> tuple[Path, list[SourceFile]]:
    base, files = iter_python_files(path)
    cache: dict[Path, list[str]] = {}
    return base, [describe(f, base, cache) for f in files]


class _Read(NamedTuple):
    """What one read of every file tells: the files the text filter keeps, the ones that
    cannot be read, the ones the periodic pass's filter keeps, and init's stub marks."""

    keep: list[SourceFile]
    errors: list[FileError]
    periodic: set[str]
    marks: list[tuple[str, int, str]]  # (rel, line, function name)


def _analyze_job(job: Job) -> tuple[str, FileFacts]:
    # Imported on first use: a warm run, served by the cache, never loads the analysis.
    from ._ast_analyze import analyze_tree, parse

    path, rel, module, is_package, mapped = job
    try:
        with open(path, "rb") as handle:
            _, data = split_bom(handle.read())
        try:
            tree = parse(data)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            return rel, FileFacts(module, error=too_deeply_nested(data) or unparsable(exc))
        if mapped is not None and not tree_calls_enqueue(tree, data, mapped):
            return rel, FileFacts(module, parsed=False)
        return rel, analyze_tree(tree, data, module, is_package)
    except RecursionError:
        return rel, FileFacts(module, error="too deeply nested for the parser (RecursionError)")
    except Exception as exc:  # one bad file must not stop the scan
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return rel, FileFacts(module, error=f"{type(exc).__name__}: {first_line}")


def unparsable(exc: Exception) -> str:
    """A one-line file error for source this interpreter's ``ast`` refuses. Code written
    for a newer Python than this one is refused too: scan reads code with the grammar of
    the Python it runs on."""
    if not isinstance(exc, SyntaxError):
        return (
            f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
        )
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return (
        f"SyntaxError for Python {version}: {exc.msg}, line {exc.lineno}; "
        "if it uses newer Python syntax, run queue2celery with the Python your app runs on"
    )


def _crashed(job: Job) -> tuple[str, FileFacts]:
    return job.rel, FileFacts(job.module, error="the parser crashed its process on this file")


def _job(f: SourceFile, mapped: frozenset[str] | None) -> Job:
    return Job(str(f.path), f.rel, f.module, f.is_package, mapped)


def _prefiltered(files: list[SourceFile], config: MigrateConfig, prefilter: bool = True) -> _Read:
    names = config.mapped_names
    read = _Read([], [], set(), [])
    for f in files:
        try:
            data = f.path.read_bytes()
        except OSError as exc:
            read.errors.append(FileError(f.rel, f"cannot read: {exc.strerror or exc}"))
            continue
        if not prefilter or may_hold_site(data, names):
            read.keep.append(f)
        if may_hold_periodic(data):
            read.periodic.add(f.rel)
        read.marks.extend((f.rel, line, name) for line, name in stub_marks(data))
    return read


def scan(
    path: Path,
    config: MigrateConfig | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    prefilter: bool = True,
    on_total: Callable[[int], None] | None = None,
    use_cache: bool = False,
    marks: list[tuple[str, int, str]] | None = None,
    stats: dict[str, int] | None = None,
) -> ScanResult:
    """Scan ``path`` (a folder or one file). ``prefilter=False`` parses every file (the slow,
    obvious way; kept for the benchmark, the findings are the same). ``use_cache`` keeps
    each file's facts in ``.q2c_cache/`` beside the config's pyproject.toml (none without
    one), reused while the file is unchanged. ``marks`` gets ``(rel, line, function)`` for
    each init stub mark (read from the same bytes); ``stats`` the number of files parsed
    (``"parsed"``) and parsed by the periodic pass (``"periodic_parsed"``)."""
    config = config or MigrateConfig()
    base, files = _collect(path)
    by_module = {f.module: f for f in files if f.module}
    # Every file is read once here: the text filters of scan and of the periodic pass, and
    # the stub marks, all come from that read.
    read = _prefiltered(files, config, prefilter)
    first, errors = read.keep, read.errors
    if not prefilter:
        errors = []  # without the filter, a file that cannot be read is reported by analysis
        first = files
    if marks is not None:
        marks.extend(read.marks)
    if on_total:
        on_total(len(first))
    mapped = config.mapped_names if prefilter else None
    facts: dict[str, FileFacts] = {}
    done: set[str] = set()
    unreadable = {e.path for e in errors}
    cache = FactsCache(config.source.parent) if use_cache and config.source else None
    real_base = os.path.realpath(base)

    def where(f: SourceFile) -> str:
        # The cache's key: the file's real path (symlinks are never listed, so the root's
        # real path and the relative path give it without a realpath per file).
        return os.path.join(real_base, f.rel)

    todo = first
    searched: set[tuple[bytes, bytes]] = set()
    methods: set[str] = set()  # the tree's enqueue methods, once known
    analysed = 0
    while todo:
        analysed += _analyse(todo, mapped, facts, done, jobs, progress, cache, where)
        mapped = None  # modules needed for their definitions are analysed whatever they call
        todo = _needed(facts, config, by_module, done, methods)
        if not todo:
            # Now the tree's enqueue methods, wrappers and app.state names are known: the
            # files that call them are sites too, whatever the pre-filter said.
            linker = Linker((f for f in facts.values() if not f.error), config)
            # private methods are called on self, in their own module (loaded already)
            methods = {m for _, m in linker.enqueue_methods if m[:1] != "_"}
            todo = _needed(facts, config, by_module, done, methods)
            if todo:
                continue  # the factories behind receivers of those methods, first
            words = words_needed(linker, facts.values()) - searched
            searched |= words
            if words:
                patterns = [(re.compile(call), re.compile(anchor)) for call, anchor in words]
                todo = [
                    f
                    for f in files
                    if f.rel not in done and f.rel not in unreadable and _says(f, patterns)
                ]
    errors += [FileError(rel, f.error) for rel, f in facts.items() if f.error]
    linker = Linker((f for f in facts.values() if not f.error), config)
    sites: list[Site] = []
    candidates: list[Candidate] = []
    for rel, f in facts.items():
        for call in f.calls:
            site = linker.site(rel, call)
            if site is not None:
                sites.append(site)
                continue
            candidate = linker.candidate(rel, call)
            if candidate is not None and (f.says_queue or not _on_self(candidate.receiver)):
                # self.x.put() in a class that builds no Queue: the pre-filter's own rule
                candidates.append(candidate)
        for spawn in f.spawns:
            maybe = linker.spawn_candidate(rel, spawn)
            if maybe is not None:
                candidates.append(maybe)
                continue
            site = linker.spawn_site(rel, spawn)
            if site is not None:
                sites.append(site)
    sites.sort(key=lambda s: (s.path, s.line, s.col))
    candidates.sort(key=lambda c: (c.path, c.line, c.col))
    handlers: list[HandlerSite] = []
    for rel, f in facts.items():
        for fact in f.handlers:
            handler = linker.handler(rel, fact)
            if handler is not None:
                handlers.append(handler)
    handlers.sort(key=lambda h: (h.path, h.line, h.col))
    errors.sort(key=lambda e: e.path)
    parsed = sum(1 for f in facts.values() if f.parsed and not f.error)
    periodic_stats: dict[str, int] = {}
    periodic, periodic_errors = find_periodic(
        files,
        config.periodic,
        jobs=jobs,
        may_hold=read.periodic,
        cache=cache,
        where=where,
        stats=periodic_stats,
    )
    if cache is not None:
        cache.save()
    if stats is not None:
        stats["parsed"] = analysed
        stats["periodic_parsed"] = periodic_stats.get("parsed", 0)
    errors = sorted([*errors, *periodic_errors], key=lambda e: e.path)
    return ScanResult(
        len(files),
        parsed,
        tuple(sites),
        tuple(errors),
        tuple(handlers),
        periodic=tuple(periodic),
        candidates=tuple(candidates),
    )


def _analyse(
    todo: list[SourceFile],
    mapped: frozenset[str] | None,
    facts: dict[str, FileFacts],
    done: set[str],
    jobs: int | None,
    progress: Progress | None,
    cache: FactsCache | None,
    where_is: Callable[[SourceFile], str],
) -> int:
    """Analyses ``todo`` (from the cache where it can); the number of files analysed."""
    done.update(f.rel for f in todo)
    keys = {f.rel: cache.key(f.path, f.module, mapped) for f in todo} if cache else {}
    where = {f.rel: where_is(f) for f in todo} if cache else {}
    missing: list[SourceFile] = []
    for f in todo:
        known = cache.get(where[f.rel], keys[f.rel]) if cache else None
        if known is None:
            missing.append(f)
        else:
            facts[f.rel] = known
    if progress and len(missing) < len(todo):
        progress(len(todo) - len(missing))
    if missing:
        # Loaded here, before the pool starts: forked workers inherit it instead of each
        # importing it again.
        from . import _ast_analyze  # noqa: F401
    for rel, result in parallel_map(
        _analyze_job, [_job(f, mapped) for f in missing], jobs, progress, _crashed
    ):
        facts[rel] = result
        if cache is not None:
            cache.put(where[rel], keys[rel], result)
    return len(missing)


def _needed(
    facts: dict[str, FileFacts],
    config: MigrateConfig,
    by_module: dict[str, SourceFile],
    done: set[str],
    methods: Collection[str] = (),
) -> list[SourceFile]:
    todo: list[SourceFile] = []
    for name in sorted(modules_needed(facts.values(), config, methods)):
        owner = owner_module(name, by_module)
        if name in by_module and owner is None:
            owner = name
        if not owner or by_module[owner] in todo:
            continue
        rel = by_module[owner].rel
        known = facts.get(rel)
        # Skipped by the ast filter (no enqueue call of its own): its definitions are needed
        # now, e.g. a manager instance whose class no longer enqueues after rewrite.
        shallow = known is not None and not known.parsed and not known.error
        if rel not in done or shallow:
            todo.append(by_module[owner])
    return todo


def _on_self(receiver: str) -> bool:
    return receiver.split(".")[0] in ("self", "cls")


def _says(f: SourceFile, patterns: list[tuple[re.Pattern[bytes], re.Pattern[bytes]]]) -> bool:
    try:
        data = f.path.read_bytes()
    except OSError:
        return False
    return any(call.search(data) and anchor.search(data) for call, anchor in patterns)
