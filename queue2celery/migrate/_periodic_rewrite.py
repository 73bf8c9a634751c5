"""``rewrite``'s periodic part: guard the legacy start of every periodic job that a generated
Beat schedule module (its ``replaces`` table) or ``[tool.queue2celery.periodic]`` has taken
over. Nothing is guarded before such a schedule exists, so no job ever stops running."""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
from libcst.codemod import CodemodContext

from ._files import SourceFile, Unreadable, split_bom, too_deeply_nested
from ._periodic import find_periodic
from ._periodic_model import PeriodicJob
from .beat_schedule import MARKER, replaced_functions
from .codemods.periodic_start import GuardPeriodicStartCommand
from .config import MigrateConfig

__all__ = ["guard_periodic_starts"]

Outcome = tuple[str, bytes | None, tuple[str, ...], str | None]


def migrated_functions(files: Sequence[SourceFile], config: MigrateConfig) -> dict[str, str]:
    """Legacy function -> the Beat entry (or mapped task) that replaces it."""
    out = {fn: task for fn, task in config.periodic.items()}
    marker = MARKER.encode()
    for f in files:
        if isinstance(f.path, Unreadable):
            continue  # never opened: scan lists it under errors
        try:
            with open(f.path, "rb") as handle:
                head = handle.read(len(marker) + 3)  # the marker opens the file (or a BOM)
                if marker not in head:
                    continue
                data = head + handle.read()
        except OSError:
            continue
        for entry, function in replaced_functions(data).items():
            out.setdefault(function, f"{entry} ({f.module or f.rel})")
    return out


def guard_periodic_starts(
    files: Sequence[SourceFile],
    config: MigrateConfig,
    outcomes: list[Outcome],
    originals: dict[str, bytes],
    jobs: int | None = None,
) -> list[Outcome]:
    """``outcomes`` with the guards added (a file the other codemods changed is guarded on
    top of their output); ``originals`` gains the files only this step changes."""
    migrated = migrated_functions(files, config)
    if not migrated:
        return outcomes
    found, _ = find_periodic(files, config.periodic, jobs=jobs)
    per_start: dict[tuple[str, int], list[PeriodicJob]] = {}
    for job in found:
        if job.start is not None:
            per_start.setdefault((job.start.path, job.start.line), []).append(job)
    plan: dict[str, dict[int, str]] = {}
    notes: dict[str, list[str]] = {}
    for (rel, line), sharing in sorted(per_start.items()):
        moved = [j for j in sharing if j.function in migrated]
        if not moved:
            continue
        where = f"{rel}:{line}"
        if len(moved) < len(sharing):
            left = ", ".join(j.name for j in sharing if j not in moved)
            notes.setdefault(rel, []).append(
                f"{where}: start left unguarded: it also starts {left}, not on Beat yet"
            )
            continue
        code = sharing[0].start.code if sharing[0].start else ""
        if code.startswith("@") and "repeat_every" in code:
            notes.setdefault(rel, []).append(
                f"{where}: remove {code} by hand (and the startup hook it sits under)"
            )
            continue
        plan.setdefault(rel, {})[line] = ", ".join(migrated[j.function or ""] for j in moved)
    if not plan and not notes:
        return outcomes
    by_rel = {f.rel: f for f in files}
    index = {o[0]: n for n, o in enumerate(outcomes)}
    result = list(outcomes)
    for rel in sorted(set(plan) | set(notes)):
        n = index.get(rel)
        previous = result[n] if n is not None else (rel, None, (), None)
        if previous[3] is not None:
            continue  # the file already failed: leave it
        f = by_rel[rel]
        try:
            source = previous[1] if previous[1] is not None else f.path.read_bytes()
        except OSError as exc:
            result.append((rel, None, (), f"cannot read: {exc.strerror or exc}"))
            continue
        originals.setdefault(rel, source)  # the file on disk, unless an earlier pass read it
        new, warnings, error = _guard(source, plan.get(rel, {}), f)
        outcome = (
            rel,
            new if new != source else previous[1],
            (*previous[2], *notes.get(rel, []), *warnings),
            error,
        )
        if n is None:
            result.append(outcome)
        else:
            result[n] = outcome
    return result


def _guard(
    source: bytes, starts: dict[int, str], f: SourceFile
) -> tuple[bytes, tuple[str, ...], str | None]:
    if not starts:
        return source, (), None
    bom, body = split_bom(source)
    reason = too_deeply_nested(body)
    if reason is not None:
        return source, (), f"{reason}; left unchanged"
    try:
        tree = cst.parse_module(body)
    except cst.ParserSyntaxError as exc:
        return source, (), f"ParserSyntaxError: {str(exc).splitlines()[0]}"
    context = CodemodContext(filename=str(f.path), full_module_name=f.module or None)
    command = GuardPeriodicStartCommand(context, starts)
    out = command.transform_module(tree)
    missing = sorted(set(starts) - command.guarded)
    warnings = tuple(
        f"line {n}: the periodic start was not found; guard it by hand" for n in missing
    )
    new = out.bytes
    warnings += tuple(context.warnings)
    return (source if new == body else bom + new), warnings, None
