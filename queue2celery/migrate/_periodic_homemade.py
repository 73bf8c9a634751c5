"""Home-made periodic classes: a class whose method loops, sleeping an interval given to its
constructor and calling a function given to it (``PeriodicTask(60, cleanup).start()``), and
``threading.Thread`` subclasses whose ``run`` loops. One job per instance built."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ._periodic_facts import FuncFact, ModuleFacts, ObjFact
from ._periodic_model import PeriodicJob
from ._periodic_names import Sym, sym_refs

if TYPE_CHECKING:
    from ._periodic_link import Linker

__all__ = ["homemade_jobs"]

_CONTROL = ("start", "stop", "cancel", "pause", "resume", "set", "shutdown")


def homemade_jobs(linker: Linker, seen: set[tuple[str, int]]) -> list[PeriodicJob]:
    looping: dict[str, list[FuncFact]] = {}
    for func in list(linker.functions.values()):
        if func.cls and func.loop is not None and not func.loop.run_pending:
            if periodic_class(linker, func.cls, func):
                looping.setdefault(func.cls, []).append(func)
    out: list[PeriodicJob] = []
    for facts in list(linker.modules):
        for obj in facts.objects:
            cls = linker.canon(obj.cls)
            for func in looping.get(cls or "", []):
                job = _job(linker, facts, obj, cls or "", func)
                if job is not None:
                    seen.add((func.fqn, job.line))
                    out.append(job)
    return out


def periodic_class(linker: Linker, cls: str, func: FuncFact) -> bool:
    """A class whose loop is periodic work per instance: its interval or its function comes
    from the constructor, or the class starts the loop itself (``Thread.run``, a thread or
    task it starts). A server's main loop (``while not self.should_exit``) is neither."""
    loop = func.loop
    assert loop is not None
    init = linker.functions.get(f"{cls}.__init__")
    attrs = {f"{cls}.{attr}" for attr, _ in (init.init_attrs if init else ())}
    if attrs & set(sym_refs(loop.sleep)) or (loop.tick and linker.canon(loop.tick.callee) in attrs):
        return True
    bases = {b for m in linker.modules for c, bs in m.classes if c == cls for b in bs}
    targets = {f"{cls}.run"} if any(b.endswith("Thread") for b in bases) else set()
    targets |= {
        s.target
        for m in linker.modules
        for s in m.starts
        if s.target and s.target.startswith(f"{cls}.")
    }
    return any(linker.reach(t) == func for t in targets)


def _bindings(linker: Linker, obj: ObjFact, cls: str) -> dict[str, Sym]:
    """``Class.attr`` -> the value the constructor call gives it."""
    init = linker.functions.get(f"{cls}.__init__")
    if init is None:
        return {}
    given: dict[str, Sym] = dict(init.defaults)
    given.update(zip(init.params, obj.args, strict=False))
    given.update(obj.kwargs)
    return {f"{cls}.{attr}": given[param] for attr, param in init.init_attrs if param in given}


def _job(
    linker: Linker, facts: ModuleFacts, obj: ObjFact, cls: str, func: FuncFact
) -> PeriodicJob | None:
    loop = func.loop
    assert loop is not None
    attrs = _bindings(linker, obj, cls)
    review: list[str] = []
    notes: list[str] = [f"{cls.rsplit('.', 1)[-1]}(...) built at {facts.rel}:{obj.stmt.line}"]
    schedule = linker.interval(loop, attrs, review, notes)
    start_stmt = obj.stmt
    owner = facts
    control: list[str] = []
    started = obj.started
    for other in linker.modules:
        for method in other.methods:
            if obj.bound is None or linker.canon(method.receiver) != obj.bound:
                continue
            if method.method == "start" and not method.in_route and not started:
                start_stmt, owner, started = method.stmt, other, True
            elif method.in_route and method.method in _CONTROL:
                control.append(
                    f"endpoint {method.function} calls {method.receiver_text}.{method.method}()"
                )
    if not started:
        notes.append("no start() call found for it: the construction is the start site")
    tick = loop.tick
    from_ctor = tick is not None and linker.canon(tick.callee) in attrs
    is_thread = any(
        b.endswith("Thread")
        for m in linker.modules
        for c, bases in m.classes
        if c == cls
        for b in bases
    )
    kind = "homemade" if from_ctor or not is_thread else "thread"
    job = linker.job_from_loop(
        func,
        loop,
        schedule,
        kind,
        linker.site(owner, start_stmt),
        review,
        notes,
        control,
        instance=obj.bound,
        bind_attrs=attrs,
    )
    # One job per instance: it is where the instance is built.
    return replace(job, path=facts.rel, line=obj.stmt.line, col=obj.stmt.col)
