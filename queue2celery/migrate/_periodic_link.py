"""Periodic jobs from every module's facts: which loop a thread or task reaches (up to three
calls away), what each interval is, what each job risks."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from ._periodic_eval import Values
from ._periodic_facts import FuncFact, JobFact, LoopFact, MethodFact, ModuleFacts, StartFact, Stmt
from ._periodic_model import PERIODIC_RISKS, PeriodicJob, Schedule, StartSite
from ._periodic_names import Sym

__all__ = ["Linker"]

MAX_DEPTH = 3  # a loop may be this many calls away from the thread or task target
SHORT = 300  # seconds: an interval this short is easily overrun by a run that does I/O


class Linker:
    def __init__(self, modules: Iterable[ModuleFacts], load: Callable[[str], ModuleFacts | None]):
        self.modules: list[ModuleFacts] = []
        self.functions: dict[str, FuncFact] = {}
        self.rel: dict[str, str] = {}
        constants: dict[str, Sym] = {}
        self.alias: dict[str, str] = {}
        self.objects: dict[str, str] = {}
        self._load = load
        self._asked: set[str] = set()
        self._homemade: set[str] | None = None
        self.values = Values(constants, self.alias, self.objects, self._load_for)
        for facts in modules:
            self._add(facts)

    def _add(self, facts: ModuleFacts) -> None:
        self.modules.append(facts)
        self.rel[facts.module] = facts.rel
        for local, target in facts.imports:
            self.alias[f"{facts.module}.{local}"] = target
        self.values.constants.update(facts.constants)
        for func in facts.functions:
            self.functions[func.fqn] = func
        for obj in facts.objects:
            if obj.bound and obj.cls:
                self.objects[obj.bound] = obj.cls

    def _load_for(self, fqn: str) -> bool:
        facts = self._load(fqn)
        if facts is None or facts.module in self.rel:
            return False
        self._add(facts)
        return True

    def function(self, fqn: str | None) -> FuncFact | None:
        """The facts of function ``fqn``, reading its module on demand (a module that does not
        mention sleep or a scheduler is not analysed up front)."""
        if not fqn:
            return None
        fqn = self.values.canon(fqn)
        if fqn not in self.functions and fqn not in self._asked:
            self._asked.add(fqn)
            self._load_for(fqn)
        return self.functions.get(fqn)

    def canon(self, fqn: str | None) -> str | None:
        return self.values.canon(fqn) if fqn else None

    # -- all jobs ------------------------------------------------------------------------
    def jobs(self, mapping: Mapping[str, str]) -> list[PeriodicJob]:
        out: list[PeriodicJob] = []
        seen: set[tuple[str, int]] = set()
        for facts in list(self.modules):
            for start in facts.starts:
                job = self._loop_job(facts, start, seen)
                if job is not None:
                    out.append(job)
            for fact in facts.jobs:
                job = self._library_job(facts, fact)
                if job is not None:
                    out.append(job)
        out.extend(self._homemade_jobs(seen))
        names: dict[str, int] = {}
        final = []
        for job in sorted(out, key=lambda j: (j.path, j.line, j.col)):
            count = names[job.name] = names.get(job.name, 0) + 1
            name = job.name if count == 1 else f"{job.name}_{count}"
            target = mapping.get(job.function or "")
            final.append(_replace(job, name=name, target=target))
        return final

    # -- loops started in a thread or a task ----------------------------------------------
    def _reach(self, target: str | None) -> tuple[FuncFact, int] | None:
        frontier = [self.canon(target)]
        visited: set[str | None] = set(frontier)
        for depth in range(MAX_DEPTH + 1):
            following: list[str | None] = []
            for name in frontier:
                func = self.functions.get(name or "")
                if func is None:
                    continue
                if func.loop is not None:
                    return func, depth
                for call in func.calls:
                    callee = self.canon(call.callee)
                    if callee not in visited:
                        visited.add(callee)
                        following.append(callee)
            frontier = following
        return None

    def reach(self, target: str | None) -> FuncFact | None:
        """The looping function ``target`` reaches within three calls, or None."""
        found = self._reach(target)
        return found[0] if found else None

    def _loop_job(
        self, facts: ModuleFacts, start: StartFact, seen: set[tuple[str, int]]
    ) -> PeriodicJob | None:
        found = self._reach(start.target)
        if found is None:
            return None
        func, depth = found
        loop = func.loop
        assert loop is not None
        if loop.run_pending or (func.cls is not None and func.cls in self.homemade_classes()):
            return None  # a schedule runner; a periodic class's loop: one job per instance
        if (func.fqn, loop.line) in seen:
            return None
        seen.add((func.fqn, loop.line))
        bind: dict[str, Sym] = dict(func.defaults)
        if depth == 0:
            bind.update(zip(func.params, start.args, strict=False))
            bind.update(start.kwargs)
        review: list[str] = []
        notes: list[str] = []
        schedule = self.interval(loop, bind, review, notes)
        if depth:
            notes.append(f"the loop is in {func.fqn}, {depth} call(s) from the {start.kind} target")
        kind = start.kind if start.kind in ("thread", "task", "script") else "thread"
        if start.kind == "script":
            notes.append("started when the module runs as a script (its own process)")
        return self.job_from_loop(
            func,
            loop,
            schedule,
            kind,
            self.site(facts, start.stmt),
            review,
            notes,
            self._start_control(start, func),
        )

    def interval(
        self, loop: LoopFact, bind: Mapping[str, Sym], review: list[str], notes: list[str]
    ) -> Schedule:
        seconds = self.values.number(loop.sleep, bind, notes)
        if seconds is None or seconds <= 0:
            review.append(f"the interval {loop.sleep_text!r} cannot be resolved statically")
            return Schedule("unknown", expression=loop.sleep_text)
        return Schedule("interval", seconds=seconds, expression=loop.sleep_text)

    def job_from_loop(
        self,
        func: FuncFact,
        loop: LoopFact,
        schedule: Schedule,
        kind: str,
        start: StartSite | None,
        review: list[str],
        notes: list[str],
        control: list[str],
        instance: str | None = None,
        bind_attrs: Mapping[str, Sym] | None = None,
    ) -> PeriodicJob:
        tick = loop.tick
        function = callable_ = None
        is_async: bool | None = None
        args: tuple[str, ...] = ()
        kwargs: tuple[tuple[str, str], ...] = ()
        if tick is None:
            review.append(
                f"the loop body in {func.fqn} is inline: move one pass of it into a "
                "function, then generate the schedule again"
            )
        else:
            callee = self.canon(tick.callee)
            given = bind_attrs.get(callee or "") if bind_attrs else None
            if given is not None:  # self.func, given to the constructor
                callee = self.canon(given[1]) if given[0] == "ref" else None
            if callee is None:
                review.append(f"the loop calls {tick.text!r}, which scan cannot resolve")
            else:
                function = callee
                callable_, why = self.callable(callee, instance)
                if why:
                    review.append(why)
                target = self.function(callee)
                is_async = target.is_async if target else tick.awaited
            args, kwargs = tick.arg_texts, tick.kwarg_texts
            if args or kwargs:
                review.append("each run gets arguments from the loop: check they are constant")
        risks = self.risks(func, loop.io, loop.sleep_after_work, function, schedule, control, notes)
        name = (function or func.fqn).rsplit(".", 1)[-1].lstrip("_") or "job"
        return PeriodicJob(
            path=self.rel.get(func.module, func.module),
            line=loop.line,
            col=loop.col,
            name=name,
            function=function,
            callable=callable_,
            is_async=is_async,
            started_by=kind,
            schedule=schedule,
            start=start,
            args=args,
            kwargs=kwargs,
            risks=risks,
            needs_review=tuple(review),
            details=tuple(dict.fromkeys(notes)),
        )

    def callable(self, fqn: str, instance: str | None) -> tuple[str | None, str | None]:
        """``module:qualname`` for a function the generated task can import; a method needs
        the instance it runs on."""
        func = self.function(fqn)
        if func is not None:
            if "<locals>" in func.qualname:
                return None, f"{fqn} is defined inside a function: move it to module level"
            if func.cls is not None:
                if instance and instance.rsplit(".", 1)[0] in self.rel:
                    owner = instance.rsplit(".", 1)[0]
                    return f"{owner}:{instance.rsplit('.', 1)[1]}.{fqn.rsplit('.', 1)[1]}", None
                return None, f"{fqn} is a method: say which instance runs it (map it to a task)"
            return f"{func.module}:{func.qualname}", None
        # Not analysed: the longest known module prefix, else ``a.b:c`` from the last dot.
        parts = fqn.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:cut]) in self.rel:
                return f"{'.'.join(parts[:cut])}:{'.'.join(parts[cut:])}", None
        module, _, name = fqn.rpartition(".")
        return (f"{module}:{name}" if module else None), None

    # -- risks -------------------------------------------------------------------------
    def risks(
        self,
        owner: FuncFact | None,
        io: bool,
        after_work: bool,
        function: str | None,
        schedule: Schedule,
        control: list[str],
        notes: list[str],
    ) -> tuple:
        """Risk codes for a job whose runs call ``function`` (or the inline body of
        ``owner``): I/O against a short interval, process state, runtime control."""
        found = []
        target = self.function(function)
        io = io or (target is not None and self._does_io(target))
        short = schedule.type == "unknown" or (
            schedule.type == "interval" and (schedule.seconds or 0) < SHORT
        )
        if io and (short or after_work):
            found.append("overrun")
            notes.append(
                "the run does I/O and "
                + (
                    "the interval is not known"
                    if schedule.type == "unknown"
                    else "the interval is short"
                    if short
                    else "the loop slept after each run"
                )
            )
        written: set[str] = set()
        if target is not None:
            written |= self._state(target)
        elif owner is not None:
            written |= self._state(owner)
        if written:
            found.append("process-state")
            notes.append("writes " + ", ".join(sorted(written)))
        if control:
            found.append("runtime-control")
            notes.extend(control)
        return tuple(PERIODIC_RISKS[c] for c in found)

    def _does_io(self, func: FuncFact, depth: int = 0) -> bool:
        if func.io:
            return True
        if depth >= 1:
            return False
        for call in func.calls:
            callee = self.function(call.callee)
            if callee is not None and callee is not func and self._does_io(callee, depth + 1):
                return True
        return False

    def _state(self, func: FuncFact) -> set[str]:
        """What ``func`` writes that other code reads (module globals, ``self`` attributes)."""
        out = set()
        for name in func.writes:
            readers = [f for f in self.functions.values() if f.fqn != func.fqn and name in f.reads]
            if readers or any(v == name for v in self.alias.values()):
                out.add(name)
        return out

    def _start_control(self, start: StartFact, func: FuncFact) -> list[str]:
        out = []
        if start.in_route:
            out.append(f"an endpoint starts it ({start.function})")
        watched = set(func.reads) | ({start.bound} if start.bound else set())
        for method in self.route_methods():
            if method.receiver in watched and method.method in (
                "set",
                "cancel",
                "stop",
                "start",
                "clear",
            ):
                out.append(
                    f"endpoint {method.function} calls {method.receiver_text}.{method.method}()"
                )
        for route in (f for f in self.functions.values() if f.route):
            if any(self.canon(c.callee) == start.function for c in route.calls):
                out.append(f"endpoint {route.fqn} starts it")
        return out

    def route_methods(self) -> list[MethodFact]:
        return [m for facts in self.modules for m in facts.methods if m.in_route]

    def site(self, facts: ModuleFacts, stmt: Stmt) -> StartSite:
        return StartSite(facts.rel, stmt.line, stmt.col, stmt.end_line, stmt.code)

    # -- hooks: home-made classes and the scheduling libraries -------------------------
    # Defined by PeriodicLinker (in _periodic), which imports the modules that use this one:
    # so neither of them imports the other back.
    def homemade_classes(self) -> set[str]:
        """Classes built somewhere whose loop is periodic work per instance."""
        raise NotImplementedError

    def _homemade_jobs(self, seen: set[tuple[str, int]]) -> list[PeriodicJob]:
        raise NotImplementedError

    def _library_job(self, facts: ModuleFacts, fact: JobFact) -> PeriodicJob | None:
        raise NotImplementedError

def _replace(job: PeriodicJob, **changes: object) -> PeriodicJob:
    from dataclasses import replace

    return replace(job, **changes)  # type: ignore[arg-type]
