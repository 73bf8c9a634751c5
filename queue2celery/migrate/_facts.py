"""The facts scan keeps about one file: plain frozen data, so worker processes can send
them back and ``.q2c_cache`` can keep them; the cross-file decision (which receiver is a task
queue) is made afterwards by :mod:`._link`. Standard library only."""

from __future__ import annotations

from dataclasses import dataclass, field

from ._risks import Risk

__all__ = [
    "CANDIDATE_METHODS",
    "ENQUEUE_METHODS",
    "ArgShape",
    "CallFact",
    "FileFacts",
    "HandlerFact",
    "Number",
    "Signature",
    "SpawnFact",
    "StateUse",
]

ENQUEUE_METHODS = frozenset({"put", "put_nowait", "add_task"})
# Methods a home-made manager's enqueue entry point is often called; on an unresolved
# receiver they make a candidate (a likely site scan could not decide).
CANDIDATE_METHODS = frozenset(
    {"add_task", "enqueue", "enqueue_task", "add_job", "submit_task", "push_task", "put_task"}
)
Number = int | float


@dataclass(frozen=True)
class CallFact:
    """A call spelled like an enqueue, with what its receiver resolves to."""

    line: int
    col: int
    method: str
    receivers: tuple[str, ...]
    background: bool  # the receiver is a FastAPI BackgroundTasks
    function: str | None  # add_task: the function passed first
    risks: tuple[Risk, ...]
    enclosing: str = ""  # the function the call is in
    callees: tuple[str, ...] = ()  # a plain call `f(...)`: what `f` is
    sentinel: bool = False  # put(None) / put(STOP)
    priority: bool = False  # put((priority, item)) / put((priority, counter, item))
    payload_class: str | None = None  # the payload is an instance of this class
    startup: bool = False  # inside a lifespan/startup function
    receiver_text: str = ""  # the receiver as written (for candidates' messages)
    captures: tuple[str, ...] = ()  # add_task of a closure: the names it captures
    shape: ArgShape | None = None  # what the task would receive (put: the item; add_task: the rest)
    awaited: bool = False  # `await q.put(...)`: a site only on a drained asyncio queue
    priority_unsplit: bool = False  # put((priority, x, item)), x no counter: kept whole


# (positional names, how many are required, keyword-only names, *args, **kwargs)
Signature = tuple[tuple[str, ...], int, tuple[str, ...], bool, bool]
# (positional arguments given, keyword names given, a * or ** in the call)
ArgShape = tuple[int, tuple[str, ...], bool]


@dataclass(frozen=True)
class SpawnFact:
    """A fire-and-forget start of work (create_task, thread_start, executor_submit)."""

    line: int
    col: int
    kind: str
    enclosing: str
    targets: tuple[str, ...]  # what the callable resolves to
    captures: tuple[str, ...]  # a closure's names from its enclosing function
    risks: tuple[Risk, ...]
    direct: bool
    shape: ArgShape | None = None  # the arguments the function gets
    parameter: str = ""  # the function run is this parameter: its callers decide
    call_text: str = ""  # parameter only: `loop.create_task` as written (for the candidate)


@dataclass(frozen=True)
class FileFacts:
    """What one module says about enqueue calls and queue objects."""

    module: str
    calls: tuple[CallFact, ...] = ()
    instances: tuple[tuple[str, tuple[str, ...]], ...] = ()  # object -> its class names
    drained: frozenset[str] = frozenset()  # queues a thread/executor loop takes work from
    pools: frozenset[str] = frozenset()  # queues used get-to-borrow, put-to-give-back
    classes: tuple[tuple[str, tuple[str, ...]], ...] = ()  # class -> its method names
    threaded_classes: frozenset[str] = frozenset()  # classes that start threads or hold a queue
    handlers: tuple[HandlerFact, ...] = ()  # registration-shaped decorators and calls
    mutable_state: frozenset[str] = frozenset()  # module-level dicts, lists, sets, ...
    state_uses: tuple[StateUse, ...] = ()  # functions touching module-level names
    spawns: tuple[SpawnFact, ...] = ()
    drain_loops: tuple[tuple[tuple[str, ...], str], ...] = ()  # (queues, function)
    thread_targets: frozenset[str] = frozenset()  # run by a thread, executor or task
    callees: tuple[tuple[str, tuple[str, ...]], ...] = ()  # function -> what it calls
    returns: tuple[tuple[str, tuple[str, ...]], ...] = ()  # function -> what it returns
    forever: frozenset[str] = frozenset()  # functions with a `while True`-like loop
    class_kinds: tuple[tuple[str, str], ...] = ()  # class -> dataclass/pydantic/.../plain
    host_bound: tuple[tuple[str, str], ...] = ()  # function -> why it must run on this host
    says_queue: bool = True  # the text says "Queue" (the pre-filter's rule for self.x.put)
    signatures: tuple[tuple[str, Signature], ...] = ()  # function -> its parameters
    error: str | None = field(default=None, compare=False)
    parsed: bool = field(default=True, compare=False)  # False: the ast filter sufficed


@dataclass(frozen=True)
class HandlerFact:
    """A registration-shaped decorator or call, with what its receiver resolves to."""

    line: int
    col: int
    method: str
    receivers: tuple[str, ...]
    name: str | None  # the explicit name, else the function's own name
    function: str | None  # fully qualified name of the registered function
    max_retries: Number | None
    retry_delay: Number | None


@dataclass(frozen=True)
class StateUse:
    """A function touching a module-level name: ``write`` (item assignment, a mutating
    method), ``rebind`` (``global x`` then ``x = ...``) or ``read``."""

    function: str
    variable: str
    kind: str
