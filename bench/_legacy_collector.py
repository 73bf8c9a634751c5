"""The libcst collector scan used before it moved to ``ast`` (``_analyze.py`` and
``_handler_finder.py`` as they were), kept only for ``bench/_ast_equivalence.py``: the new
collector must give the same :class:`FileFacts` on every file. Not part of the package."""

# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

import libcst as cst
from libcst.metadata import (
    Access,
    Assignment,
    FunctionScope,
    GlobalScope,
    MetadataWrapper,
    PositionProvider,
    Scope,
    ScopeProvider,
)

from queue2celery.migrate._facts import (
    CANDIDATE_METHODS,
    ENQUEUE_METHODS,
    ArgShape,
    CallFact,
    FileFacts,
    HandlerFact,
    Number,
    Signature,
    SpawnFact,
    StateUse,
)
from queue2celery.migrate._resolve import BACKGROUND_TASKS, METADATA, RET, GetMetadata, Resolver
from queue2celery.migrate._risks import RISKS, Risk
from queue2celery.migrate._rules import SiteRules, Spawn, is_sentinel, payload_class, priority_split

# Calls never worth a fact: builtins and the commonest methods on values.
_NOISE = frozenset(
    {
        "get",
        "items",
        "keys",
        "values",
        "append",
        "format",
        "join",
        "split",
        "strip",
        "encode",
        "decode",
        "startswith",
        "endswith",
        "lower",
        "upper",
        "info",
        "debug",
        "warning",
        "error",
        "exception",
        "isoformat",
        "update",
    }
)
_GET_METHODS = frozenset({"get", "get_nowait"})
_EXECUTOR_METHODS = {"submit": 0, "run_in_executor": 1, "to_thread": 0, "start_new_thread": 0}


def signature_of(node: cst.FunctionDef) -> Signature:
    p = node.params
    positional = [*p.posonly_params, *p.params]
    required = sum(1 for a in positional if a.default is None)
    return (
        tuple(a.name.value for a in positional),
        required,
        tuple(a.name.value for a in p.kwonly_params),
        isinstance(p.star_arg, cst.Param),
        p.star_kwarg is not None,
    )


def arg_shape(args: Sequence[cst.Arg]) -> ArgShape:
    star = any(a.star for a in args)
    keywords = tuple(a.keyword.value for a in args if a.keyword is not None)
    return sum(1 for a in args if a.keyword is None and not a.star), keywords, star


@dataclass
class _Loop:
    gets: list[tuple[frozenset[str], frozenset[str], str]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)


class FactCollector(SiteRules):
    """Collects :class:`FileFacts` for one module (scopes + the shared site rules)."""

    METADATA_DEPENDENCIES = (*METADATA, PositionProvider)

    def __init__(self, module: str, is_package: bool) -> None:
        super().__init__(Resolver(self.get_metadata, module, is_package))
        self.calls: list[CallFact] = []
        self.spawns: list[SpawnFact] = []
        self.instances: dict[str, set[str]] = {}
        self.classes: dict[str, tuple[str, ...]] = {}
        self.class_kinds: dict[str, str] = {}
        self.thread_targets: set[str] = set()
        self.drain_candidates: list[tuple[frozenset[str], str]] = []
        self.pools: set[str] = set()
        self.callees: dict[str, set[str]] = {}
        self.returns: dict[str, set[str]] = {}
        self.forever: set[str] = set()
        self.host: set[tuple[str, str]] = set()
        self.signatures: dict[str, Signature] = {}
        self._functions: list[tuple[str, dict[str, frozenset[str]]]] = []
        self._loops: list[_Loop] = []
        self._path: list[tuple[str, str]] = []
        self.h = HandlerScanner(self.r, self.get_metadata)

    def _position(self, node: cst.CSTNode) -> tuple[int, int]:
        start = self.get_metadata(PositionProvider, node).start
        return start.line, start.column + 1

    # -- structure ------------------------------------------------------------------
    def _enter(self, kind: str, name: str) -> str:
        parts: list[str] = []
        for outer_kind, outer in self._path:
            parts.append(f"{outer}.<locals>" if outer_kind == "def" else outer)
        self._path.append((kind, name))
        return self.r.qualify(".".join([*parts, name]))

    def leave_Module(self, original_node: cst.Module) -> None:
        self.h.reads(original_node)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        super().visit_FunctionDef(node)
        name = self._enter("def", node.name.value)
        self._functions.append((name, {}))
        self.signatures[name] = signature_of(node)
        if node.decorators:
            self.h.decorators(node, name, self._position)
        if node.returns is not None:
            returned = self.r._annotation_types(node.returns.annotation)
            self.returns.setdefault(name, set()).update(returned)

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        super().leave_FunctionDef(original_node)
        self._functions.pop()
        self._path.pop()

    def visit_Return(self, node: cst.Return) -> None:
        if self._functions and node.value is not None:
            value = node.value
            names = self.r.receivers(value)
            self.returns.setdefault(self._function(), set()).update(names)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        name = self._enter("class", node.name.value)
        if "<locals>" in name:
            return
        methods = tuple(s.name.value for s in node.body.body if isinstance(s, cst.FunctionDef))
        self.classes[name] = methods
        self.class_kinds[name] = self._class_kind(node)
        for base in node.bases:
            if "threading.Thread" in self.r.fqns(base.value):
                self.thread_targets.add(f"{name}.run")

    def _class_kind(self, node: cst.ClassDef) -> str:
        """How adopt's ``types=`` could carry instances: by the class's own declaration."""
        for decorator in node.decorators:
            expr = decorator.decorator
            names = self.r.fqns(expr.func if isinstance(expr, cst.Call) else expr)
            if any(n.startswith("dataclasses.") for n in names):
                return "dataclass"
            if any(n.startswith(("attr.", "attrs.")) for n in names):
                return "attrs"
        for base in node.bases:
            names = self.r.fqns(base.value)
            if any(n.startswith("pydantic.") for n in names):
                return "pydantic"
            if names & {"typing.NamedTuple", "collections.namedtuple"}:
                return "namedtuple"
            if any(n.startswith("enum.") for n in names):
                return "enum"
            if any(n.startswith("typing.TypedDict") for n in names):
                return "typeddict"
        return "plain"

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
            queues = self.r.receivers(call.args[0].value.value)
            self._loops[-1].gets.append((queues, _target_names(node.target), self._function()))

    def visit_Name(self, node: cst.Name) -> None:
        super().visit_Name(node)
        if self._loops:
            self._loops[-1].used.add(node.value)  # the item got is read in the loop

    def leave_For(self, original_node: cst.For) -> None:
        self._leave_loop()

    def visit_While(self, node: cst.While) -> None:
        self._loops.append(_Loop())
        test = node.test
        if isinstance(test, cst.UnaryOperation):
            test = test.expression
        if isinstance(test, (cst.Name, cst.Attribute, cst.Integer)) and self._functions:
            self.forever.add(self._function())

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
        super().visit_Assign(node)
        self.r.note_assignment(node)
        self._assigned([t.target for t in node.targets], node.value)
        value = node.value
        if isinstance(value, cst.Await):
            value = value.expression
        value = _handed_get(value)
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            if value.func.attr.value in _GET_METHODS and self._functions:
                names = frozenset().union(*(_target_names(t.target) for t in node.targets))
                queues = self.r.receivers(value.func.value)
                for queue in queues:
                    self._functions[-1][1][queue] = names
                if self._loops:
                    self._loops[-1].gets.append((queues, names, self._function()))
        self._note_values([t.target for t in node.targets], node.value)

    def _note_values(self, targets: list[cst.BaseExpression], value: cst.BaseExpression) -> None:
        """What an object target may hold: an instance of a class (``RET`` of the call: the
        linker knows classes from functions), or another object (an alias, ``self.tm = tm``)."""
        if isinstance(value, cst.Call):
            values = {RET + n for n in self.r.fqns(value.func)}
        elif isinstance(value, (cst.Name, cst.Attribute)):
            values = set(self.r.receivers(value))
        else:
            return
        if not values:
            return
        for target in targets:
            for name in self.r.receivers(target):
                if not name.startswith(RET):
                    self.instances.setdefault(name, set()).update(values)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self.r.note_assignment(node)
        self._assigned([node.target], node.value)
        if node.value is not None:
            self._note_values([node.target], node.value)
        if not self._functions or isinstance(node.target, cst.Attribute):
            types = self.r._annotation_types(node.annotation.annotation)
            for name in self.r.receivers(node.target):
                self.instances.setdefault(name, set()).update(types)

    # -- calls -------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call) -> None:
        super().visit_Call(node)
        if self._loops:
            self._loops[-1].used |= _used_names(node)
        func = node.func
        self._thread_target(node)
        if not self._decorators:
            self.h.call(node, self._position)
        if self._functions:
            self.h.method_call(self._function(), node)
            if not self._decorators:
                called = self.r.callable_ids(func)
                self.callees.setdefault(self._function(), set()).update(called)
                why = next((_HOST_CALLS[c] for c in sorted(called) if c in _HOST_CALLS), None)
                if why is None and isinstance(func, cst.Attribute):
                    why = _HOST_METHODS.get(func.attr.value)
                if why is not None:
                    self.host.add((self._function(), why))
        if not isinstance(func, cst.Attribute):
            if isinstance(func, cst.Name) and self._functions and not self._decorators:
                self._plain_call(node, func)
            return
        method = func.attr.value
        if method not in ENQUEUE_METHODS:
            if self._functions and not self._decorators and method not in _NOISE:
                self._method_call(node, func)
            return
        receivers = self.r.receivers(func.value)
        if method in ("put", "put_nowait") and self._functions and node.args:
            first = node.args[0].value
            # A pool lends an object and takes it back; a consumer loop that puts the item it
            # got back on its own queue is retrying it (requeue-in-consumer), not a pool.
            requeue = isinstance(first, cst.Name) and any(
                first.value in names and set(queues) & set(receivers)
                for loop in self._loops
                for queues, names, _ in loop.gets
            )
            if isinstance(first, cst.Name) and not requeue:
                gets = self._functions[-1][1]
                self.pools.update(q for q in receivers if first.value in gets.get(q, ()))
        awaited = id(node) in self._awaited
        if self._decorators or (awaited and method not in ("put", "put_nowait")):
            return
        background = isinstance(func.value, cst.Name) and bool(
            self.r.declared_types(func.value) & BACKGROUND_TASKS
        )
        function, payload = self._payload(node, method, background)
        line, col = self._position(node)
        item = payload[0] if payload and method != "add_task" else None
        self.calls.append(
            CallFact(
                line=line,
                col=col,
                method=method,
                receivers=tuple(sorted(receivers)),
                background=background,
                function=function,
                risks=payload_risks(payload, self.r.fqns),
                enclosing=self._function(),
                sentinel=item is not None and is_sentinel(item),
                priority=item is not None and priority_split(item) is not None,
                payload_class=self._payload_class(item) if item is not None else None,
                startup=bool(self._frames) and self._frames[-1].startup,
                receiver_text=_code(func.value),
                captures=self._captures(node.args[0].value) if background and node.args else (),
                awaited=awaited,
                shape=arg_shape(list(node.args[1:]) if method == "add_task" else node.args[:1]),
            )
        )

    def _method_call(self, node: cst.Call, func: cst.Attribute) -> None:
        """Any other method call on an object scan can follow: a manager's enqueue method
        is known only once every file is read, so its calls are kept as facts."""
        receivers = self.r.receivers(func.value)
        if not receivers and func.attr.value not in CANDIDATE_METHODS:
            return
        line, col = self._position(node)
        self.calls.append(
            CallFact(
                line,
                col,
                func.attr.value,
                tuple(sorted(receivers)),
                False,
                None,
                payload_risks([a.value for a in node.args], self.r.fqns),
                enclosing=self._function(),
                startup=bool(self._frames) and self._frames[-1].startup,
                receiver_text=_code(func.value),
            )
        )

    def _plain_call(self, node: cst.Call, func: cst.Name) -> None:
        ids = self.r.callable_ids(func)
        if not ids or any(i.startswith("builtins.") for i in ids):
            return
        line, col = self._position(node)
        self.calls.append(
            CallFact(
                line,
                col,
                func.value,
                (),
                False,
                None,
                payload_risks([a.value for a in node.args], self.r.fqns),
                enclosing=self._function(),
                callees=tuple(sorted(ids)),
                startup=bool(self._frames) and self._frames[-1].startup,
            )
        )

    def _payload_class(self, item: cst.BaseExpression) -> str | None:
        return payload_class(item, self.r)

    def on_spawn(self, node: cst.Call, spawn: Spawn) -> None:
        line, col = self._position(node)
        targets = self.r.callable_ids(spawn.function)
        args = [a.value for a in spawn.args] if spawn.args else []
        self.spawns.append(
            SpawnFact(
                line,
                col,
                spawn.kind,
                self._function(),
                tuple(sorted(targets)),
                self._captures(spawn.function),
                payload_risks(args, self.r.fqns),
                spawn.direct,
                arg_shape(spawn.args) if spawn.args is not None else None,
            )
        )

    def _captures(self, expr: cst.BaseExpression) -> tuple[str, ...]:
        """A nested function's names bound in the functions around it (a closure)."""
        return closure_captures(expr, self.get_metadata)

    def _payload(
        self, node: cst.Call, method: str, background: bool
    ) -> tuple[str | None, list[cst.BaseExpression]]:
        args = list(node.args)
        if method != "add_task":
            return None, [args[0].value] if args else []
        if not args or args[0].keyword is not None or args[0].star:
            return None, [a.value for a in args]
        names = sorted(self.r.callable_ids(args[0].value))
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
        elif (
            (
                self.r.fqns(func) & {"asyncio.create_task", "asyncio.ensure_future", "asyncio.run"}
                or (isinstance(func, cst.Attribute) and func.attr.value in _TASK_STARTS)
            )
            and node.args
            and isinstance(node.args[0].value, cst.Call)
        ):
            target = node.args[0].value.func
        if target is not None:
            self.thread_targets |= self.r.callable_ids(target)

    # -- result ------------------------------------------------------------------------
    def facts(self) -> FileFacts:
        threaded = {
            cls for cls in self.classes if any(t.startswith(f"{cls}.") for t in self.thread_targets)
        }
        return FileFacts(
            module=self.r.module,
            calls=tuple(self.calls),
            instances=tuple(sorted((k, tuple(sorted(v))) for k, v in self.instances.items())),
            drained=frozenset(),
            pools=frozenset(self.pools),
            classes=tuple(sorted(self.classes.items())),
            threaded_classes=frozenset(threaded),
            handlers=tuple(self.h.handlers),
            mutable_state=frozenset(self.h.mutable),
            state_uses=tuple(sorted(self.h.uses, key=lambda u: (u.function, u.variable, u.kind))),
            spawns=tuple(self.spawns),
            drain_loops=tuple((tuple(sorted(q)), fn) for q, fn in self.drain_candidates),
            thread_targets=frozenset(self.thread_targets),
            callees=tuple(sorted((k, tuple(sorted(v))) for k, v in self.callees.items())),
            returns=tuple(sorted((k, tuple(sorted(v))) for k, v in self.returns.items())),
            forever=frozenset(self.forever),
            class_kinds=tuple(sorted(self.class_kinds.items())),
            host_bound=tuple(sorted(self.host)),
            signatures=tuple(sorted(self.signatures.items())),
        )


# Calls that tie a function to the process or machine it runs on (host-bound work).
_HOST_CALLS = {
    "os.remove": "deletes a local file",
    "os.unlink": "deletes a local file",
    "shutil.rmtree": "deletes a local folder",
    "os.execv": "restarts this process",
    "os.execl": "restarts this process",
    "os.execvp": "restarts this process",
    "os._exit": "stops this process",
    "os.kill": "signals a process of this machine",
    "sys.exit": "stops this process",
    "serial.Serial": "acts on a device attached to this machine",
}
_HOST_METHODS = {
    "unlink": "deletes a local file",
    "send_text": "writes to a live connection of this process",
    "send_json": "writes to a live connection of this process",
    "send_bytes": "writes to a live connection of this process",
}
_TASK_STARTS = frozenset({"create_task", "ensure_future", "run_until_complete", "start_soon"})


def _class_like_name(name: str) -> bool:
    last = name.rpartition(".")[2]
    return last[:1].isupper() and not last.isupper()


def _code(expr: cst.BaseExpression) -> str:
    return cst.Module([]).code_for_node(expr)


def closure_captures(expr: cst.BaseExpression, get_metadata: object) -> tuple[str, ...]:
    """Names a nested function named by ``expr`` reads from the functions around it."""
    from libcst.metadata import Assignment, FunctionScope, ScopeProvider

    if not isinstance(expr, cst.Name):
        return ()
    get = get_metadata
    scope = get(ScopeProvider, expr, None)  # type: ignore[operator]
    if scope is None or expr.value not in scope:
        return ()
    for assignment in scope[expr.value]:
        node = getattr(assignment, "node", None)
        if not isinstance(node, cst.FunctionDef) or not isinstance(assignment.scope, FunctionScope):
            continue
        inner = get(ScopeProvider, node.body, None)  # type: ignore[operator]
        if not isinstance(inner, FunctionScope):
            continue
        names: set[str] = set()
        for access in inner.accesses:
            for referent in access.referents:
                if (
                    isinstance(referent, Assignment)
                    and referent.scope is not inner
                    and isinstance(referent.scope, FunctionScope)
                    and _encloses(referent.scope, inner)
                ):
                    names.add(access.node.value if isinstance(access.node, cst.Name) else "")
        return tuple(sorted(n for n in names if n))
    return ()


def _encloses(outer: object, inner: object) -> bool:
    scope = getattr(inner, "parent", None)
    while scope is not None:
        if scope is outer:
            return True
        parent = getattr(scope, "parent", None)
        scope = None if parent is scope else parent
    return False


def _handed_get(value: cst.BaseExpression) -> cst.BaseExpression:
    """``loop.run_in_executor(None, q.get)`` / ``asyncio.to_thread(q.get)``: async code that
    takes items from a thread-safe queue, seen as the ``q.get()`` call it makes."""
    if not isinstance(value, cst.Call):
        return value
    func = value.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    position = {"run_in_executor": 1, "to_thread": 0}.get(name)
    if position is None or len(value.args) <= position:
        return value
    getter = value.args[position].value
    if isinstance(getter, cst.Attribute) and getter.attr.value in _GET_METHODS:
        return cst.Call(func=getter)
    return value


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
    return replace(collector.facts(), says_queue=b"Queue" in source)


# -- payload risks (libcst) --
NamesOf = Callable[[cst.BaseExpression], frozenset[str]]


def payload_risks(values: Iterable[cst.BaseExpression], names_of: NamesOf) -> tuple[Risk, ...]:
    """The risks found in ``values``, each code once, in a stable order."""
    found: set[str] = set()
    for value in values:
        _walk(value, names_of, found)
    return tuple(RISKS[code] for code in RISKS if code in found)


def _walk(node: cst.CSTNode, names_of: NamesOf, found: set[str]) -> None:
    if isinstance(node, cst.Lambda):
        found.add("lambda")
        return
    if isinstance(node, cst.Tuple):
        found.add("tuple-literal")
    elif isinstance(node, (cst.Set, cst.SetComp)):
        found.add("set-literal")
    elif isinstance(node, cst.SimpleString) and "b" in node.prefix.lower():
        found.add("bytes-literal")
    elif isinstance(node, cst.Dict):
        for element in node.elements:
            if isinstance(element, cst.DictElement) and _non_string_key(element.key):
                found.add("dict-non-str-key")
    elif isinstance(node, cst.Call):
        _call_risk(node, names_of, found)
    for child in node.children:
        _walk(child, names_of, found)


def _non_string_key(key: cst.BaseExpression) -> bool:
    if isinstance(key, (cst.Integer, cst.Float, cst.Imaginary, cst.Tuple)):
        return True
    if isinstance(key, cst.UnaryOperation) and isinstance(key.expression, (cst.Integer, cst.Float)):
        return True
    return isinstance(key, cst.Name) and key.value in {"True", "False", "None"}


def _call_risk(node: cst.Call, names_of: NamesOf, found: set[str]) -> None:
    names = names_of(node.func)
    if "builtins.frozenset" in names:
        found.add("frozenset")
    elif "builtins.set" in names:
        found.add("set-literal")
    elif "builtins.bytes" in names or "builtins.bytearray" in names:
        found.add("bytes-literal")
    elif _class_like(node.func):
        found.add("object-construction")


def _class_like(func: cst.BaseExpression) -> bool:
    # Classes are CapWords by convention (PEP 8); functions and builtins that build
    # JSON-safe values (dict, list, str) are lower case.
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
    return isinstance(name, str) and name[:1].isupper() and not name.isupper()


# -- _handler_finder.py --
HANDLER_METHODS = frozenset({"handler", "add_handler", "register_handler"})
# Methods that change a dict, list, set, deque or Counter in place.
MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "update",
        "add",
        "pop",
        "popitem",
        "popleft",
        "appendleft",
        "extendleft",
        "remove",
        "discard",
        "clear",
        "setdefault",
        "sort",
        "reverse",
        "rotate",
        "subtract",
        "difference_update",
        "intersection_update",
        "symmetric_difference_update",
    }
)
MUTABLE_FACTORIES = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.set",
        "builtins.bytearray",
        "collections.defaultdict",
        "collections.OrderedDict",
        "collections.Counter",
        "collections.deque",
    }
)
_STRINGS = (cst.SimpleString, cst.ConcatenatedString, cst.FormattedString)
_MUTABLE_LITERALS = (cst.Dict, cst.List, cst.Set, cst.DictComp, cst.ListComp, cst.SetComp)

GetPosition = Callable[[cst.CSTNode], tuple[int, int]]  # 1-based line and column


class HandlerScanner:
    """Collects handler registrations and module-level state uses for one module."""

    def __init__(self, resolver: Resolver, get_metadata: GetMetadata) -> None:
        self.r = resolver
        self._get = get_metadata
        self.handlers: list[HandlerFact] = []
        self.uses: set[StateUse] = set()
        self.mutable: set[str] = set()
        self._mutable_targets: set[int] = set()  # ids of module-level Names bound to one
        self._written_names: set[int] = set()  # ids of Names a write already counted
        self._globals: dict[str, set[str]] = {}  # function -> names declared global
        self._inner_calls: set[int] = set()  # q.handler("x") inside q.handler("x")(f)

    # -- registrations -----------------------------------------------------------------
    def decorators(self, node: cst.FunctionDef, function: str, position: GetPosition) -> None:
        for decorator in node.decorators:
            expr = decorator.decorator
            call = expr if isinstance(expr, cst.Call) else None
            func = call.func if call is not None else expr
            if not (isinstance(func, cst.Attribute) and func.attr.value in HANDLER_METHODS):
                continue
            receivers = self.r.fqns(func.value)
            if not receivers:
                continue
            args = list(call.args) if call is not None else []
            name = _literal_name(args) or node.name.value
            line, col = position(decorator)
            self.handlers.append(
                HandlerFact(
                    line,
                    col,
                    func.attr.value,
                    tuple(sorted(receivers)),
                    name,
                    function,
                    *_retries(args),
                )
            )

    def call(self, node: cst.Call, position: GetPosition) -> None:
        """``q.add_handler("n", f)``, ``m.register_handler("n", f)``, ``q.handler(f)`` and
        the decorator spelled as a call, ``q.handler("n")(f)``, outside decorators."""
        if id(node) in self._inner_calls:
            return
        func = node.func
        if (
            isinstance(func, cst.Call)
            and isinstance(func.func, cst.Attribute)
            and func.func.attr.value in HANDLER_METHODS
        ):
            self._inner_calls.add(id(func))  # counted here, with the function it gets
            args = list(func.args)
            func = func.func
            given = _positional(list(node.args))
            target = given[0] if given else None
        elif isinstance(func, cst.Attribute) and func.attr.value in HANDLER_METHODS:
            args = list(node.args)
            target = _function_arg(args, func.attr.value)
        else:
            return
        if target is None and func.attr.value == "handler":
            return  # q.handler("n") alone registers nothing yet
        receivers = self.r.fqns(func.value)
        if not receivers:
            return
        function = None
        if target is not None:
            ids = sorted(self.r.callable_ids(target))
            function = ids[0] if ids else None
        name = _literal_name(args)
        if name is None and not _has_name_arg(args) and function:
            name = function.rpartition(".")[2]
        line, col = position(node)
        self.handlers.append(
            HandlerFact(
                line,
                col,
                func.attr.value,
                tuple(sorted(receivers)),
                name,
                function,
                *_retries(args),
            )
        )

    # -- module-level state ------------------------------------------------------------
    def module_assignment(self, targets: list[cst.BaseExpression], value: object) -> None:
        """A module-level ``x = {}`` / ``x: dict = {}`` / ``x = defaultdict(list)``."""
        if not self._is_mutable(value):
            return
        for target in targets:
            if isinstance(target, cst.Name):
                self.mutable.add(self.r.qualify(target.value))
                self._mutable_targets.add(id(target))

    def _is_mutable(self, value: object) -> bool:
        if isinstance(value, _MUTABLE_LITERALS):
            return True
        return isinstance(value, cst.Call) and bool(self.r.fqns(value.func) & MUTABLE_FACTORIES)

    def note_global(self, function: str, node: cst.Global) -> None:
        self._globals.setdefault(function, set()).update(n.name.value for n in node.names)

    def assigned(self, function: str, target: cst.BaseExpression) -> None:
        """A target assigned inside ``function``: ``x[k] = v``, ``del x[k]``, ``x += 1``."""
        if isinstance(target, cst.Subscript):
            self._write(function, target.value)
        elif isinstance(target, cst.Name) and target.value in self._globals.get(function, ()):
            self.uses.add(StateUse(function, self.r.qualify(target.value), "rebind"))
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self.assigned(function, element.value)

    def method_call(self, function: str, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and func.attr.value in MUTATORS:
            self._write(function, func.value)

    def _write(self, function: str, obj: cst.BaseExpression) -> None:
        while isinstance(obj, cst.Subscript):  # x[a][b] = v changes x
            obj = obj.value
        if not _dotted(obj):
            return
        for variable in self.r.fqns(obj):
            self.uses.add(StateUse(function, variable, "write"))
        root = obj
        while isinstance(root, cst.Attribute):
            root = root.value
        self._written_names.add(id(root))

    def reads(self, module: cst.Module) -> None:
        """Reads of this module's mutable names from inside functions (via the scopes, so
        only those names' references are looked at)."""
        scope = self._get(ScopeProvider, module, None)
        if not isinstance(scope, GlobalScope):
            return
        for assignment in scope.assignments:
            if not isinstance(assignment, Assignment):
                continue
            if id(assignment.node) not in self._mutable_targets:
                continue
            variable = self.r.qualify(assignment.name)
            for access in assignment.references:
                self._read(access, variable)

    def _read(self, access: Access, variable: str) -> None:
        if id(access.node) in self._written_names:
            return
        function = self._function_of(access.scope)
        if function is not None:
            self.uses.add(StateUse(function, variable, "read"))

    def _function_of(self, scope: Scope | None) -> str | None:
        while scope is not None and not isinstance(scope, GlobalScope):
            if isinstance(scope, FunctionScope) and isinstance(scope.node, cst.FunctionDef):
                return self.r.qualify(self.r.scope_path(scope))
            scope = scope.parent
        return None


def _dotted(expr: cst.BaseExpression) -> bool:
    while isinstance(expr, cst.Attribute):
        expr = expr.value
    return isinstance(expr, cst.Name)


def _positional(args: list[cst.Arg]) -> list[cst.BaseExpression]:
    return [a.value for a in args if a.keyword is None and not a.star]


def _keyword(args: list[cst.Arg], *names: str) -> cst.BaseExpression | None:
    for arg in args:
        if arg.keyword is not None and arg.keyword.value in names:
            return arg.value
    return None


def _string(expr: cst.BaseExpression | None) -> str | None:
    if isinstance(expr, (cst.SimpleString, cst.ConcatenatedString)):
        value = expr.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _literal_name(args: list[cst.Arg]) -> str | None:
    for value in (*_positional(args)[:1], _keyword(args, "name", "name_or_func")):
        name = _string(value)
        if name is not None:
            return name
    return None


def _has_name_arg(args: list[cst.Arg]) -> bool:
    positional = _positional(args)
    return len(positional) >= 2 or _keyword(args, "name") is not None


def _function_arg(args: list[cst.Arg], method: str) -> cst.BaseExpression | None:
    """``handler(f)``; ``add_handler("n", f)`` / ``register_handler("n", f)``, or with the
    function alone, ``register_handler(f)``."""
    keyword = _keyword(args, "func", "fn", "function", "handler", "callback")
    if keyword is not None:
        return keyword
    positional = _positional(args)
    if len(positional) >= 2 and method != "handler":
        return positional[1]
    if positional and not isinstance(positional[0], _STRINGS):
        return positional[0]
    return None


def _number(expr: cst.BaseExpression | None) -> Number | None:
    sign = 1
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, cst.Minus):
        sign, expr = -1, expr.expression
    if isinstance(expr, (cst.Integer, cst.Float)):
        value = expr.evaluated_value
        return sign * value if isinstance(value, (int, float)) else None
    return None


def _retries(args: list[cst.Arg]) -> tuple[Number | None, Number | None]:
    return _number(_keyword(args, "max_retries")), _number(_keyword(args, "retry_delay"))
