"""Facts of one module for periodic detection (frozen, plain data: worker processes send
them back). The cross-module decisions (which loop a thread reaches, what an interval is)
are made afterwards by :mod:`._periodic_link`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._periodic_names import Sym

__all__ = ["CallRef", "FuncFact", "LoopFact", "ModuleFacts", "ObjFact", "StartFact", "Stmt"]


@dataclass(frozen=True)
class Stmt:
    """A statement: where it is (1-based line, 1-based column), its last line, its text."""

    line: int
    col: int
    end_line: int
    code: str
    bare: bool = False  # an expression statement (the start call is the whole statement)


@dataclass(frozen=True)
class CallRef:
    """A call: what it calls (qualified, None when unknown), its arguments, where."""

    callee: str | None
    text: str
    args: tuple[Sym, ...] = ()
    kwargs: tuple[tuple[str, Sym], ...] = ()
    awaited: bool = False
    line: int = 0
    col: int = 0
    method: str | None = None  # the attribute name for ``x.m(...)``
    arg_texts: tuple[str, ...] = ()
    kwarg_texts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LoopFact:
    """A periodic-shaped loop inside a function."""

    line: int
    col: int
    sleep: Sym
    sleep_text: str
    sleep_after_work: bool
    tick: CallRef | None  # the one call each pass makes, when the body is one call
    work: tuple[str, ...]  # qualified callees (or ``.method``) the body calls
    io: bool  # the body does I/O (awaits, network, database, files)
    run_pending: bool  # the loop drives a ``schedule`` scheduler (it is a runner, not a job)


@dataclass(frozen=True)
class FuncFact:
    """One function or method."""

    fqn: str
    module: str
    qualname: str
    is_async: bool
    params: tuple[str, ...]
    defaults: tuple[tuple[str, Sym], ...]
    route: bool  # an HTTP/websocket endpoint
    cls: str | None
    calls: tuple[CallRef, ...]
    loop: LoopFact | None
    io: bool
    writes: tuple[str, ...]  # module-level names and ``Class.attr`` it writes
    reads: tuple[str, ...]  # the same, read
    init_attrs: tuple[tuple[str, str], ...] = ()  # __init__: self.attr = param
    line: int = 0


@dataclass(frozen=True)
class StartFact:
    """A thread or task started with ``target`` (a qualified function)."""

    kind: str  # thread | task
    via: str  # Thread, create_task, submit, ...
    target: str | None
    args: tuple[Sym, ...]
    kwargs: tuple[tuple[str, Sym], ...]
    stmt: Stmt
    function: str  # where the start is (qualified), ``<module>`` at top level
    in_route: bool
    bound: str | None = None  # Thread objects: the variable holding it


@dataclass(frozen=True)
class ObjFact:
    """An object built from a class (``x = Cls(...)``, ``Cls(...).start()``)."""

    cls: str | None
    args: tuple[Sym, ...]
    kwargs: tuple[tuple[str, Sym], ...]
    bound: str | None
    stmt: Stmt
    function: str
    started: bool  # ``Cls(...).start()``
    arg_texts: tuple[str, ...] = ()
    kwarg_texts: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class MethodFact:
    """``receiver.method(...)`` for the methods that start or control periodic work."""

    receiver: str | None
    receiver_text: str
    method: str
    stmt: Stmt
    function: str
    in_route: bool


@dataclass(frozen=True)
class JobFact:
    """A registration with a scheduling library: ``schedule``'s ``every(...)...do(job)`` and
    ``@repeat``, APScheduler's ``add_job`` / ``@scheduled_job``, fastapi-utils' ``@repeat_every``.
    ``steps``: the chain, innermost first, as (name, args, kwargs)."""

    kind: str  # schedule | add_job | scheduled_job | repeat_every
    receiver: str | None
    receiver_text: str
    steps: tuple[tuple[str, tuple[Sym, ...], tuple[tuple[str, Sym], ...]], ...]
    job: str | None  # qualified function it runs
    job_text: str
    stmt: Stmt
    function: str
    line: int
    col: int
    job_args: tuple[str, ...] = ()
    job_kwargs: tuple[tuple[str, str], ...] = ()
    imports_library: bool = False  # the module imports the library the call belongs to
    expression: str = ""  # the registration, on one line


@dataclass(frozen=True)
class ModuleFacts:
    module: str
    rel: str
    imports: tuple[tuple[str, str], ...] = ()
    constants: tuple[tuple[str, Sym], ...] = ()  # qualified name -> value (module, class)
    functions: tuple[FuncFact, ...] = ()
    starts: tuple[StartFact, ...] = ()
    objects: tuple[ObjFact, ...] = ()
    methods: tuple[MethodFact, ...] = ()
    jobs: tuple[JobFact, ...] = ()
    classes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # class -> its bases (qualified)
    error: str | None = field(default=None, compare=False)
