"""One file, parsed once: the facts scan needs (calls, queue objects, drain loops, threads).

Facts are plain frozen data so worker processes can send them back; the cross-file decision
(which receiver is a task queue) is made afterwards by :mod:`._link`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from ._handler_finder import HandlerFact, HandlerScanner, StateUse
from ._resolve import BACKGROUND_TASKS, METADATA, Resolver
from ._risks import Risk, payload_risks

ENQUEUE_METHODS = frozenset({"put", "put_nowait", "add_task"})
_GET_METHODS = frozenset({"get", "get_nowait"})
_EXECUTOR_METHODS = {"submit": 0, "run_in_executor": 1, "to_thread": 0, "start_new_thread": 0}


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
    error: str | None = field(default=None, compare=False)
    parsed: bool = field(default=True, compare=False)  # False: the ast filter sufficed


@dataclass
class _Loop:
    gets: list[tuple[frozenset[str], frozenset[str], str]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


class FactCollector(cst.CSTVisitor):
    """Collects :class:`FileFacts` for one module (QualifiedNameProvider + scopes)."""

    METADATA_DEPENDENCIES = (*METADATA, PositionProvider)

    def __init__(self, module: str, is_package: bool) -> None:
        super().__init__()
        self.r = Resolver(self.get_metadata, module, is_package)
        self.calls: list[CallFact] = []
        self.instances: dict[str, set[str]] = {}
        self.classes: dict[str, tuple[str, ...]] = {}
        self.thread_targets: set[str] = set()
        self.drain_candidates: list[tuple[frozenset[str], str]] = []
        self.pools: set[str] = set()
        self._functions: list[tuple[str, dict[str, frozenset[str]]]] = []
        self._loops: list[_Loop] = []
        self._awaited: set[int] = set()
        self._decorators = 0
        self._path: list[tuple[str, str]] = []
        self.h = HandlerScanner(self.r, self.get_metadata)

    def _position(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column + 1

    # -- structure ------------------------------------------------------------------
    def visit_Decorator(self, node: cst.Decorator) -> None:
        self._decorators += 1

    def leave_Decorator(self, original_node: cst.Decorator) -> None:
        self._decorators -= 1

    def visit_Await(self, node: cst.Await) -> None:
        self._awaited.add(id(node.expression))

    def _enter(self, kind: str, name: str) -> str:
        parts: list[str] = []
        for outer_kind, outer in self._path:
            parts.append(f"{outer}.<locals>" if outer_kind == "def" else outer)
        self._path.append((kind, name))
        return self.r.qualify(".".join([*parts, name]))

    def leave_Module(self, original_node: cst.Module) -> None:
        self.h.reads(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        name = self._enter("def", node.name.value)
        self._functions.append((name, {}))
        if node.decorators:
            self.h.decorators(node, name, self._position)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()
        self._path.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = self._enter("class", node.name.value)
        if "<locals>" in name:
            return
        methods = tuple(s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef))
        self.classes[name] = methods
        for base in node.bases:
            if "threading.Thread" in self.r.fqns(base.value):
                self.thread_targets.add(f"{name}.run")

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._path.pop()

    def visit_For(self, node: cst.For) -> None:
        self._loops.append(_Loop())
        call = node.iter
        if (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Name)
            and call.func.value == "iter"
            and call.args
            and isinstance(call.args[0].value, cst.Attribute)
            and call.args[0].value.attr.value in _GET_METHODS
        ):
            queues = self.r.fqns(call.args[0].value.value)
            self._loops[-1].gets.append((queues, _target_names(node.target), self._function()))

    def leave_For(self, original_node: cst.For) -> None:
        self._leave_loop()

    def visit_While(self, node: cst.While) -> None:
        self._loops.append(_Loop())

    def leave_While(self, original_node: cst.While) -> None:
        self._leave_loop()

    def _leave_loop(self) -> None:
        loop = self._loops.pop()
        for queues, names, function in loop.gets:
            if names & loop.used:
                self.drain_candidates.append((queues, function))
        if self._loops:  # an inner loop's uses count for the loop around it
            self._loops[-1].used |= loop.used
            self._loops[-1].gets.extend(loop.gets)

    def _function(self) -> str:
        return self._functions[-1][0] if self._functions else self.r.qualify("<module>")

    # -- assignments: which object is an instance of which class ------------------------
    def visit_Global(self, node: cst.Global) -> None:
        if self._functions:
            self.h.note_global(self._function(), node)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if self._functions:
            self.h.assigned(self._function(), node.target)

    def visit_Del(self, node: cst.Del) -> None:
        if self._functions:
            self.h.assigned(self._function(), node.target)

    def _assigned(self, targets: list[cst.BaseExpression], value: object) -> None:
        if self._functions:
            for target in targets:
                self.h.assigned(self._function(), target)
        elif not self._path:
            self.h.module_assignment(targets, value)

    def visit_Assign(self, node: cst.Assign) -> None:
        self.r.note_assignment(node)
        self._assigned([t.target for t in node.targets], node.value)
        value = node.value
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            if value.func.attr.value in _GET_METHODS and self._functions:
                names = frozenset().union(*(_target_names(t.target) for t in node.targets))
                queues = self.r.fqns(value.func.value)
                for queue in queues:
                    self._functions[-1][1][queue] = names
                if self._loops:
                    self._loops[-1].gets.append((queues, names, self._function()))
        if isinstance(value, cst.Call):
            classes = self.r.fqns(value.func)
            if classes:
                for target in node.targets:
                    for name in self.r.fqns(target.target):
                        self.instances.setdefault(name, set()).update(classes)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.r.note_assignment(node)
        self._assigned([node.target], node.value)
        if isinstance(node.value, cst.Call):
            classes = self.r.fqns(node.value.func)
            for name in self.r.fqns(node.target):
                self.instances.setdefault(name, set()).update(classes)

    # -- calls -------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        if self._loops:
            self._loops[-1].used |= _used_names(node)
        func = node.func
        self._thread_target(node)
        if not self._decorators:
            self.h.call(node, self._position)
        if self._functions:
            self.h.method_call(self._function(), node)
        if not isinstance(func, cst.Attribute) or func.attr.value not in ENQUEUE_METHODS:
            return
        method = func.attr.value
        receivers = self.r.fqns(func.value)
        if method in ("put", "put_nowait") and self._functions and node.args:
            first = node.args[0].value
            if isinstance(first, cst.Name):
                gets = self._functions[-1][1]
                self.pools.update(q for q in receivers if first.value in gets.get(q, ()))
        if self._decorators or id(node) in self._awaited:
            return  # @router.put(...), await asyncio_queue.put(...): never enqueue sites
        background = isinstance(func.value, cst.Name) and bool(
            self.r.declared_types(func.value) & BACKGROUND_TASKS
        )
        if not receivers and not background:
            return
        function, payload = self._payload(node, method, background)
        pos = self.get_metadata(PositionProvider, node).start
        self.calls.append(
            CallFact(
                line=pos.line,
                col=pos.column + 1,
                method=method,
                receivers=tuple(sorted(receivers)),
                background=background,
                function=function,
                risks=payload_risks(payload, self.r.fqns),
            )
        )

    def _payload(
        self, node: cst.Call, method: str, background: bool
    ) -> tuple[str | None, list[cst.BaseExpression]]:
        args = list(node.args)
        if method != "add_task":
            return None, [args[0].value] if args else []
        if not args or args[0].keyword is not None or args[0].star:
            return None, [a.value for a in args]
        names = sorted(self.r.fqns(args[0].value))
        return (names[0] if names else None), [a.value for a in args[1:]]

    def _thread_target(self, node: cst.Call) -> None:
        func = node.func
        target: cst.BaseExpression | None = None
        if isinstance(func, cst.Attribute) and func.attr.value in _EXECUTOR_METHODS:
            index = _EXECUTOR_METHODS[func.attr.value]
            positional = [a for a in node.args if a.keyword is None and not a.star]
            if len(positional) > index:
                target = positional[index].value
        elif any(n.endswith("Thread") or n.endswith(".Process") for n in self.r.fqns(func)):
            for arg in node.args:
                if arg.keyword is not None and arg.keyword.value == "target":
                    target = arg.value
        if target is not None:
            self.thread_targets |= self.r.callable_ids(target)

    # -- result ------------------------------------------------------------------------
    def facts(self) -> FileFacts:
        drained = {
            q for queues, fn in self.drain_candidates if fn in self.thread_targets for q in queues
        }
        threaded = {
            cls for cls in self.classes if any(t.startswith(f"{cls}.") for t in self.thread_targets)
        }
        return FileFacts(
            module=self.r.module,
            calls=tuple(self.calls),
            instances=tuple(sorted((k, tuple(sorted(v))) for k, v in self.instances.items())),
            drained=frozenset(drained),
            pools=frozenset(self.pools),
            classes=tuple(sorted(self.classes.items())),
            threaded_classes=frozenset(threaded),
            handlers=tuple(self.h.handlers),
            mutable_state=frozenset(self.h.mutable),
            state_uses=tuple(sorted(self.h.uses, key=lambda u: (u.function, u.variable, u.kind))),
        )


def _target_names(target: cst.BaseExpression) -> frozenset[str]:
    if isinstance(target, cst.Name):
        return frozenset({target.value})
    if isinstance(target, (cst.Tuple, cst.List)):
        return frozenset().union(*(_target_names(e.value) for e in target.elements))
    return frozenset()


def _used_names(call: cst.Call) -> set[str]:
    used = set()
    func = call.func
    if isinstance(func, cst.Name):
        used.add(func.value)
    elif isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name):
        used.add(func.value.value)  # item.run(): the item is handed to code too
    for arg in call.args:
        if isinstance(arg.value, cst.Name):
            used.add(arg.value.value)
    return used


def analyze(source: bytes, module: str, is_package: bool) -> FileFacts:
    """Parse ``source`` (no BOM) and collect its facts; raises libcst's ParserSyntaxError."""
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    collector = FactCollector(module, is_package)
    wrapper.visit(collector)
    return collector.facts()
