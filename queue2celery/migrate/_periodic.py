"""Periodic work under a tree: which files to read (a text filter first: only files that
say sleep, schedule, add_job, repeat_every or wait( are parsed), their facts on several
processes, then the jobs linked across modules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from ._files import SourceFile, Unreadable, split_bom
from ._parallel import Progress, parallel_map
from ._periodic_collect import collect
from ._periodic_facts import JobFact, ModuleFacts
from ._periodic_homemade import homemade_jobs, periodic_class
from ._periodic_library import library_job
from ._periodic_link import Linker
from ._periodic_model import PeriodicJob
from ._periodic_names import sym_refs
from .results import FileError

__all__ = ["find_periodic", "may_hold_periodic"]

# A file can define periodic work only with a loop that sleeps or waits, or a registration
# with a scheduling library; anything else is skipped unparsed. Files that merely start a
# loop defined elsewhere, or build a home-made periodic object, are found by name in a
# second pass; the settings modules intervals come from are read on demand.
_REGISTRATION = re.compile(
    rb"add_job|scheduled_job|add_schedule|repeat_every|run_pending|every\(|\.do\("
)
_PAUSE = re.compile(rb"sleep|\.wait\(|wait_for\(")


Job = tuple[str, str, str, bool]


class PeriodicLinker(Linker):
    """The linker with its hooks: home-made periodic classes and the scheduling libraries."""

    def homemade_classes(self) -> set[str]:
        if self._homemade is None:
            built = {self.canon(o.cls) or "" for m in self.modules for o in m.objects if o.cls}
            self._homemade = {
                f.cls
                for f in list(self.functions.values())
                if f.cls in built and f.loop is not None and periodic_class(self, f.cls, f)
            }
        return self._homemade

    def _homemade_jobs(self, seen: set[tuple[str, int]]) -> list[PeriodicJob]:
        return homemade_jobs(self, seen)

    def _library_job(self, facts: ModuleFacts, fact: JobFact) -> PeriodicJob | None:
        return library_job(self, facts, fact)


def may_hold_periodic(data: bytes) -> bool:
    """The cheap text pre-filter for periodic analysis."""
    if _REGISTRATION.search(data) is not None:
        return True
    return b"while" in data and _PAUSE.search(data) is not None


def _facts_job_forced(job: Job) -> ModuleFacts:
    path, rel, module, is_package = job
    try:
        with open(path, "rb") as handle:
            _, data = split_bom(handle.read())
        return collect(data, module, is_package, rel)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OSError):
        return ModuleFacts(module, rel)
    except Exception as exc:
        return ModuleFacts(module, rel, error=f"periodic analysis failed: {type(exc).__name__}")


def _loop_names(facts: Sequence[ModuleFacts]) -> set[str]:
    """Module-level functions that loop (or call one, up to three calls away) and that no
    start seen so far reaches: a file starting one of them must say its name."""
    funcs = {f.fqn: f for m in facts for f in m.functions}
    frontier = {s.target for m in facts for s in m.starts if s.target}
    reached: set[str] = set()
    for _ in range(4):
        reached |= frontier
        frontier = {
            c.callee for n in frontier if n in funcs for c in funcs[n].calls if c.callee
        } - reached
    looping = {n for n, f in funcs.items() if f.loop is not None and not f.loop.run_pending}
    words: set[str] = set()
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


def _periodic_classes(facts: Sequence[ModuleFacts]) -> set[str]:
    """Short names of classes whose loop is periodic work per instance (the constructor
    feeds it, it is a Thread's run, or the class starts it); see :mod:`._periodic_homemade`."""
    funcs = [f for m in facts for f in m.functions]
    bases = {c: b for m in facts for c, b in m.classes}
    targets = {s.target for m in facts for s in m.starts if s.target}
    inits = {
        f.cls: {f"{f.cls}.{a}" for a, _ in f.init_attrs} for f in funcs if f.cls and f.init_attrs
    }
    out = set()
    for f in funcs:
        if not (f.cls and f.loop) or f.loop.run_pending:
            continue
        fed = inits.get(f.cls, set())
        tick = f.loop.tick.callee if f.loop.tick else None
        if (
            fed & set(sym_refs(f.loop.sleep))
            or tick in fed
            or any(t.startswith(f"{f.cls}.") for t in targets)
            or (f.fqn.endswith(".run") and any(b.endswith("Thread") for b in bases.get(f.cls, ())))
        ):
            out.add(f.cls.rsplit(".", 1)[-1])
    return out


def _instance_names(facts: Sequence[ModuleFacts]) -> set[str]:
    """Module-level names of objects whose class loops, or of APScheduler schedulers."""
    looping = _periodic_classes(facts)
    out = set()
    for m in facts:
        for obj in m.objects:
            if not obj.bound or not obj.cls or "<locals>" in obj.bound:
                continue
            name = obj.cls.rsplit(".", 1)[-1]
            if name in looping or obj.cls.startswith("apscheduler."):
                out.add(obj.bound.rsplit(".", 1)[-1])
    return out


def _may_hold(f: SourceFile) -> bool:
    try:
        return may_hold_periodic(f.path.read_bytes())
    except OSError:
        return False


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
    # A FIFO, socket or device named *.py is never opened (scan's own pass lists it).
    files = [f for f in files if not isinstance(f.path, Unreadable)]
    by_module = {f.module: f for f in files if f.module}
    # The text filter runs here: a process pool only for the few files it keeps.
    todo = [(str(f.path), f.rel, f.module, f.is_package) for f in files if _may_hold(f)]
    if progress:
        progress(len(files) - len(todo))
    facts = parallel_map(_facts_job_forced, todo, jobs, progress, _crashed)
    # Later passes: files that never say sleep but start a loop defined elsewhere, build a
    # home-made periodic object (``PeriodicTask(30, poll)``), or start or control one (the
    # object's or the scheduler's name): two rounds at most.
    analysed = {f.rel for f in facts if f.imports or f.functions or f.objects or f.jobs}
    asked: set[str] = set()
    for _ in range(2):
        # A class is built (``Name(``), an object is used (``name.``), a function is named.
        classes = _periodic_classes(facts)
        words = {
            *(f"{w}\\s*\\(" for w in classes),
            *(f"{w}\\s*\\." for w in _instance_names(facts)),
            *(f"{w}\\b" for w in _loop_names(facts) - classes),
        } - asked
        if not words:
            break
        asked |= words
        pattern = re.compile(rb"\b(?:" + "|".join(sorted(words)).encode() + rb")")
        more = [f for f in files if f.rel not in analysed and _mentions(f, pattern)]
        analysed |= {f.rel for f in more}
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

    linker = PeriodicLinker((f for f in facts if f.functions or f.jobs or f.starts), load)
    return linker.jobs(mapping or {}), errors


def _owner(fqn: str, modules: Iterable[str] | Mapping[str, SourceFile]) -> str | None:
    parts = fqn.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in modules:
            return head
    return None
