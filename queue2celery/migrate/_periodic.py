"""Periodic work under a tree: which files to read (a text filter first: only files that
say sleep, schedule, add_job, repeat_every or wait( are parsed), their facts on several
processes, then the jobs linked across modules."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from ._cache import content_key
from ._files import SourceFile, Unreadable, split_bom
from ._parallel import Progress, parallel_map
from ._periodic_facts import JobFact, ModuleFacts
from ._periodic_homemade import homemade_jobs, periodic_class
from ._periodic_library import library_job
from ._periodic_link import Linker
from ._periodic_model import PeriodicJob
from ._periodic_names import sym_refs
from .results import FileError

if TYPE_CHECKING:
    from ._cache import FactsCache, Key

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
# The periodic facts of one file (None: a cache hit needs none) and the content key of the
# bytes they were collected from.
Collected = tuple["ModuleFacts | None", "Key | None"]


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


def _facts_job_forced(job: Job) -> Collected:
    """The file's facts (None: ``ast`` refuses it) and the key of the bytes they come from
    (None: not to be cached)."""
    # Imported on first use: a warm run, served by the cache, never loads the collector.
    from ._periodic_collect import collect

    path, rel, module, is_package = job
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError:
        return None, None
    key = content_key(raw, module, is_package)
    _, data = split_bom(raw)
    try:
        return collect(data, module, is_package, rel), key
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, key
    except Exception as exc:
        error = f"periodic analysis failed: {type(exc).__name__}"
        return ModuleFacts(module, rel, error=error), None


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


def _crashed(job: Job) -> Collected:
    return None, None


_UNPARSABLE = "unparsable"  # cached for a file ``ast`` refuses


class _Facts:
    """Collects files' periodic facts: from the cache when the content is unchanged, else
    parsed (on several processes), and puts the new ones in the cache (keyed by
    ``where(file)``, the file's real path)."""

    def __init__(
        self,
        cache: FactsCache | None,
        jobs: int | None,
        where: Callable[[SourceFile], str] | None,
    ) -> None:
        self.cache = cache
        self.jobs = jobs
        self.where = where or (lambda f: str(f.path))
        self.parsed = 0  # files parsed by this pass (none on a warm run)

    def _cached(self, f: SourceFile) -> ModuleFacts | str | None:
        if self.cache is None:
            return None
        try:
            raw = f.path.read_bytes()
        except OSError:
            return None
        found = self.cache.get_periodic(self.where(f), content_key(raw, f.module, f.is_package))
        return found if isinstance(found, (ModuleFacts, str)) else None

    def _put(self, f: SourceFile, key: Key | None, facts: ModuleFacts | str) -> None:
        if self.cache is not None and key is not None:
            self.cache.put_periodic(self.where(f), key, facts)

    def many(
        self, files: Sequence[SourceFile], progress: Progress | None = None
    ) -> list[ModuleFacts]:
        """The facts of ``files``, in order (an empty one for a file that does not parse)."""
        known = [self._cached(f) for f in files]
        out = [
            k if isinstance(k, ModuleFacts) else ModuleFacts(f.module, f.rel)
            for f, k in zip(files, known, strict=True)
        ]
        missing = [n for n, k in enumerate(known) if k is None]
        if progress and len(missing) < len(files):
            progress(len(files) - len(missing))
        jobs = [
            (str(files[n].path), files[n].rel, files[n].module, files[n].is_package)
            for n in missing
        ]
        self.parsed += len(jobs)
        if jobs:
            # Loaded before the pool starts: forked workers inherit it.
            from . import _periodic_collect  # noqa: F401
        done = parallel_map(_facts_job_forced, jobs, self.jobs, progress, _crashed)
        for n, (facts, key) in zip(missing, done, strict=True):
            out[n] = facts if facts is not None else ModuleFacts(files[n].module, files[n].rel)
            self._put(files[n], key, facts if facts is not None else _UNPARSABLE)
        return out

    def one(self, f: SourceFile) -> ModuleFacts | None:
        """A module read on demand (where an interval is defined); None if it does not
        parse."""
        known = self._cached(f)
        if known is not None:
            return known if isinstance(known, ModuleFacts) else None
        self.parsed += 1
        facts, key = _facts_job_forced((str(f.path), f.rel, f.module, f.is_package))
        self._put(f, key, facts if facts is not None else _UNPARSABLE)
        return facts


def find_periodic(
    files: Sequence[SourceFile],
    mapping: Mapping[str, str] | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    may_hold: Collection[str] | None = None,
    cache: FactsCache | None = None,
    where: Callable[[SourceFile], str] | None = None,
    stats: dict[str, int] | None = None,
) -> tuple[list[PeriodicJob], list[FileError]]:
    """Every periodic job in ``files`` (``mapping``: function -> an existing Celery task).

    ``may_hold``: the rels the text filter keeps, when the caller already read every file
    (None: read here). ``cache``: files' facts reused while their content is unchanged,
    keyed by ``where(file)``. ``stats["parsed"]`` gets the number of files parsed."""
    # A FIFO, socket or device named *.py is never opened (scan's own pass lists it).
    files = [f for f in files if not isinstance(f.path, Unreadable)]
    by_module = {f.module: f for f in files if f.module}
    collector = _Facts(cache, jobs, where)
    # The text filter runs here: a process pool only for the few files it keeps.
    kept = [f for f in files if (f.rel in may_hold if may_hold is not None else _may_hold(f))]
    if progress:
        progress(len(files) - len(kept))
    facts = collector.many(kept, progress)
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
        facts += collector.many(more)
    errors = [FileError(f.rel, f.error) for f in facts if f.error]

    def load(fqn: str) -> ModuleFacts | None:
        owner = _owner(fqn, by_module)
        if owner is None:
            return None
        return collector.one(by_module[owner])

    linker = PeriodicLinker((f for f in facts if f.functions or f.jobs or f.starts), load)
    found = linker.jobs(mapping or {})
    if stats is not None:
        stats["parsed"] = collector.parsed
    return found, errors


def _owner(fqn: str, modules: Iterable[str] | Mapping[str, SourceFile]) -> str | None:
    parts = fqn.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        head = ".".join(parts[:cut])
        if head in modules:
            return head
    return None
