"""``rewrite``: run the codemods over a tree; write changed files atomically, or only diff."""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext

from ..errors import CodemodError
from ._files import (
    SourceFile,
    may_hold_site,
    mentions,
    split_bom,
    too_deeply_nested,
    write_atomically,
)
from ._parallel import Progress, parallel_map
from ._periodic_rewrite import guard_periodic_starts
from .codemods import CODEMODS
from .codemods._base import LegacyCallCodemod, TreeFacts
from .codemods._priority import built_as_priority_queues
from .codemods._signatures import task_signatures
from .config import MigrateConfig
from .results import FileChange, FileError, RewriteResult, ScanResult
from .scan import collect_files, scan

__all__ = ["rewrite", "rewrite_source"]


def rewrite_source(
    source: bytes,
    config: MigrateConfig,
    *,
    module: str = "",
    is_package: bool = False,
    filename: str | None = None,
    codemods: Sequence[type[LegacyCallCodemod]] = CODEMODS,
    facts: TreeFacts | None = None,
) -> tuple[bytes, tuple[str, ...]]:
    """``(new_source, warnings)``; returns ``source`` itself when nothing changes.

    Everything but the rewritten calls and imports is kept byte for byte, a UTF-8 BOM and
    CRLF line ends included. Raises libcst's ParserSyntaxError for code that does not parse.
    """
    bom, body = split_bom(source)
    names = config.mapped_names
    if not (may_hold_site(body, names) and mentions(body, names)):
        return source, ()
    if not any(command.may_apply(body, config) for command in codemods):
        return source, ()
    reason = too_deeply_nested(body)
    if reason is not None:
        raise CodemodError(f"{reason}; left unchanged")
    tree = cst.parse_module(body)
    package = module if is_package else module.rpartition(".")[0]
    warnings: list[str] = []
    for command in codemods:
        if not command.may_apply(body, config):
            continue
        context = CodemodContext(
            filename=filename or ("__init__.py" if is_package else None),
            full_module_name=module or None,
            full_package_name=package or None,
        )
        tree = command(context, config=config, facts=facts).transform_module(tree)
        warnings.extend(context.warnings)
    out = tree.bytes
    return (source if out == body else bom + out), tuple(warnings)


Outcome = tuple[str, bytes | None, tuple[str, ...], str | None]


RewriteJob = tuple[str, str, str, bool, MigrateConfig, "TreeFacts | None"]


def _rewrite_job(job: RewriteJob) -> Outcome:
    path, rel, module, is_package, config, facts = job
    try:
        with open(path, "rb") as handle:
            source = handle.read()
        new, warnings = rewrite_source(
            source, config, module=module, is_package=is_package, filename=path, facts=facts
        )
        return rel, (None if new == source else new), warnings, None
    except RecursionError:
        return rel, None, (), "too deeply nested for the parser (RecursionError)"
    except Exception as exc:  # one bad file must not stop the others
        text = str(exc).strip()
        return rel, None, (), f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def _crashed(job: RewriteJob) -> Outcome:
    return job[1], None, (), "the parser crashed its process on this file"


def _diff(rel: str, old: bytes, new: bytes) -> str:
    a = old.decode("utf-8", errors="replace").splitlines(keepends=True)
    b = new.decode("utf-8", errors="replace").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"a/{rel}", tofile=f"b/{rel}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def rewrite(
    path: Path,
    config: MigrateConfig,
    *,
    dry_run: bool = False,
    jobs: int | None = None,
    progress: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
    scanned: ScanResult | None = None,
) -> RewriteResult:
    """Rewrite every mapped site under ``path``; with ``dry_run`` nothing is written.
    ``scanned``: a scan of the same tree with the same config, if the caller has one (the
    tree's facts come from it instead of a second scan)."""
    files = collect_files(path)
    errors: list[FileError] = []
    candidates: list[SourceFile] = []
    names = config.mapped_names
    originals: dict[str, bytes] = {}
    for f in files:
        try:
            data = f.path.read_bytes()
        except OSError as exc:
            errors.append(FileError(f.rel, f"cannot read: {exc.strerror or exc}"))
            continue
        if may_hold_site(data, names) and mentions(data, names):
            candidates.append(f)
            originals[f.rel] = data
    # Only a literal tuple put needs to know whether its queue is a PriorityQueue.
    tuples = any(_TUPLE_PUT.search(originals[f.rel]) for f in candidates)
    facts = TreeFacts()
    if candidates:
        # scan decides which calls are sites (one rule set): the codemods run only on the
        # files holding a mapped site (or that scan could not parse: their error is
        # rewrite's to report too). The same scan says which functions are host-bound
        # and which mapped queues are fed (priority, item) tuples.
        found = scanned or scan(path, config, jobs=jobs)
        facts = _tree_facts(found)
        # ``scanned`` may come from a scan with another mapping: a site counts when its
        # key is mapped here.
        mapped = {*config.queues, *config.functions}
        keep = {s.path for s in found.sites if s.target or s.queue in mapped}
        keep |= {e.path for e in found.errors}
        candidates = [f for f in candidates if f.rel in keep]
    if on_total:
        on_total(len(candidates))
    if tuples and config.queues:
        built = built_as_priority_queues(files, config.queues)
        facts = replace(facts, priority_queues=facts.priority_queues | built)
    targets = (*config.queues.values(), *config.functions.values())
    facts = replace(
        facts, importers=_importers(files, config), signatures=task_signatures(files, targets)
    )
    jobs_in = [(str(f.path), f.rel, f.module, f.is_package, config, facts) for f in candidates]
    outcomes = parallel_map(_rewrite_job, jobs_in, jobs, progress, _crashed)
    outcomes = guard_periodic_starts(files, config, outcomes, originals, jobs)
    paths = {f.rel: f.path for f in files}
    changes: list[FileChange] = []
    warnings: list[tuple[str, str]] = []
    for rel, new, notes, error in outcomes:
        warnings.extend((rel, n) for n in notes)
        if error is not None:
            errors.append(FileError(rel, error))
            continue
        if new is None:
            continue
        if not dry_run:
            try:
                write_atomically(paths[rel], new)
            except OSError as exc:
                errors.append(FileError(rel, f"cannot write: {exc.strerror or exc}"))
                continue
        changes.append(FileChange(rel, _diff(rel, originals[rel], new), notes))
    errors.sort(key=lambda e: e.path)
    return RewriteResult(len(files), tuple(changes), tuple(errors), tuple(warnings), dry_run)


def _importers(files: list[SourceFile], config: MigrateConfig) -> dict[str, frozenset[str]]:
    """Each target task module of the tree -> the modules it imports (read with ``ast``)."""
    targets = {t.rpartition(".")[0] for t in (*config.queues.values(), *config.functions.values())}
    out: dict[str, frozenset[str]] = {}
    for f in files:
        if f.module not in targets:
            continue
        try:
            tree = ast.parse(f.path.read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        package = f.module if f.is_package else f.module.rpartition(".")[0]
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                    base = ".".join(p for p in (*parts, base) if p)
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names)
        out[f.module] = frozenset(names)
    return out


_TUPLE_PUT = re.compile(rb"\.\s*put(?:_nowait)?\s*\(\s*\(")


def _tree_facts(found: ScanResult) -> TreeFacts:
    """What one file cannot say about the tree, from the same scan ``check`` runs: which
    mapped queues are fed ``(priority, item)`` entries, and which functions must run on
    this host."""
    priority = frozenset(
        s.queue for s in found.sites if s.queue and any(r.code == "priority-tuple" for r in s.risks)
    )
    host: dict[str, str] = {}
    for site in found.sites:
        why = next((r.message for r in site.risks if r.code == "host-bound"), None)
        if why is not None and site.function:
            host.setdefault(site.function, why)
    return TreeFacts(priority_queues=priority, host_bound=host)
