"""Periodic work under a tree: which files to read (a text filter first: only files that
say sleep, schedule, add_job, repeat_every or wait( are parsed), their facts on several
processes, then the jobs linked across modules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ._files import SourceFile, split_bom
from ._parallel import Progress, parallel_map
from ._periodic_collect import collect
from ._periodic_facts import ModuleFacts
from ._periodic_link import Linker
from ._periodic_model import PeriodicJob
from .results import FileError

__all__ = ["find_periodic", "may_hold_periodic"]

# Every shape sleeps, waits, or names a scheduling library: a file saying none of these
# words cannot start periodic work (the settings modules intervals come from are read later,
# on demand, for their constants only).
_WORDS = re.compile(rb"sleep|schedul|add_job|repeat_every|\.wait\(|run_pending")

Job = tuple[str, str, str, bool]


def may_hold_periodic(data: bytes) -> bool:
    """The cheap text pre-filter for periodic analysis."""
    return _WORDS.search(data) is not None


def _facts_job(job: Job) -> ModuleFacts:
    path, rel, module, is_package = job
    try:
        with open(path, "rb") as handle:
            _, data = split_bom(handle.read())
        if not may_hold_periodic(data):
            return ModuleFacts(module, rel)
        return collect(data, module, is_package, rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return ModuleFacts(module, rel)  # scan's own pass reports files that do not parse
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the scan
        return ModuleFacts(module, rel, error=f"periodic analysis failed: {type(exc).__name__}")


def _facts_job_forced(job: Job) -> ModuleFacts:
    path, rel, module, is_package = job
    try:
        with open(path, "rb") as handle:
            _, data = split_bom(handle.read())
        return collect(data, module, is_package, rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return ModuleFacts(module, rel)
    except Exception as exc:  # noqa: BLE001 - one bad file must not stop the scan
        return ModuleFacts(module, rel, error=f"periodic analysis failed: {type(exc).__name__}")


def _loop_names(facts: Sequence[ModuleFacts]) -> set[str]:
    """The words a file must say to start a loop defined elsewhere: classes with a looping
    method, and module-level functions that loop (or call one, up to three calls away) that
    no start seen so far reaches."""
    funcs = {f.fqn: f for m in facts for f in m.functions}
    frontier = {s.target for m in facts for s in m.starts if s.target}
    reached: set[str] = set()
    for _ in range(4):
        reached |= frontier
        frontier = {
            c.callee for n in frontier if n in funcs for c in funcs[n].calls if c.callee
        } - reached
    looping = {n for n, f in funcs.items() if f.loop is not None and not f.loop.run_pending}
    words = {funcs[n].cls.rsplit(".", 1)[-1] for n in looping if funcs[n].cls}  # type: ignore[union-attr]
    chain = {n for n in looping if funcs[n].cls is None and "<locals>" not in n} - reached
    for _ in range(3):
        short = {n.rsplit(".", 1)[-1] for n in chain}
        callers = {
            n
            for n, f in funcs.items()
            if n not in chain
            and n not in reached
            and f.cls is None
            and "<locals>" not in n
            and any(c.callee and c.callee.rsplit(".", 1)[-1] in short for c in f.calls)
        }
        if not callers:
            break
        chain |= callers
    words |= {n.rsplit(".", 1)[-1] for n in chain}
    return {w for w in words if w.isidentifier()}


def _mentions(f: SourceFile, pattern: re.Pattern[bytes]) -> bool:
    try:
        return pattern.search(f.path.read_bytes()) is not None
    except OSError:
        return False


def _crashed(job: Job) -> ModuleFacts:
    return ModuleFacts(job[2], job[1])


def find_periodic(
    files: Sequence[SourceFile],
    mapping: Mapping[str, str] | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
) -> tuple[list[PeriodicJob], list[FileError]]:
    """Every periodic job in ``files`` (``mapping``: function -> an existing Celery task)."""
    by_module = {f.module: f for f in files if f.module}
    todo = [(str(f.path), f.rel, f.module, f.is_package) for f in files]
    facts = parallel_map(_facts_job, todo, jobs, progress, _crashed)
    # Second pass: files that never say sleep but start a loop defined elsewhere, or build
    # a home-made periodic object (``PeriodicTask(30, poll)`` in the module that uses it).
    analysed = {f.rel for f in facts if f.functions or f.jobs or f.starts or f.objects}
    words = _loop_names(facts)
    if words:
        pattern = re.compile(
            rb"\b(?:" + b"|".join(re.escape(w.encode()) for w in sorted(words)) + rb")\b"
        )
        more = [f for f in files if f.rel not in analysed and _mentions(f, pattern)]
        facts += parallel_map(
            _facts_job_forced,
            [(str(f.path), f.rel, f.module, f.is_package) for f in more],
            jobs,
            None,
            _crashed,
        )
    errors = [FileError(f.rel, f.error) for f in facts if f.error]

    def load(fqn: str) -> ModuleFacts | None:
        owner = _owner(fqn, by_module)
        if owner is None:
            return None
        f = by_module[owner]
        try:
            _, data = split_bom(f.path.read_bytes())
            return collect(data, f.module, f.is_package, f.rel)
        except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
            return None

    linker = Linker((f for f in facts if f.functions or f.jobs or f.starts), load)
    return linker.jobs(mapping or {}), errors


def _owner(fqn: str, modules: Iterable[str] | Mapping[str, SourceFile]) -> str | None:
    parts = fqn.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in modules:
            return head
    return None
