"""One file, parsed once with ``ast``: the facts scan needs (calls, queue objects, drain
loops, threads, handlers, spawns). The facts are plain frozen data (:mod:`._facts`); the
cross-file decision (which receiver is a task queue) is made afterwards by :mod:`._link`.

Positions are reported as libcst reports them (and as editors count): 1-based line, column
in characters (``ast`` counts UTF-8 bytes).
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass, field, replace

from ._ast_handlers import AstHandlerScanner
from ._ast_resolve import Arg, AstResolver, cst_args
from ._ast_risks import payload_risks
from ._ast_rules import AstSiteRules, Spawn, is_sentinel, payload_class, priority_shape
from ._ast_scope import build_scopes
from ._ast_source import Source
from ._facts import (
    CANDIDATE_METHODS,
    ENQUEUE_METHODS,
    ArgShape,
    CallFact,
    FileFacts,
    Signature,
    SpawnFact,
)
from ._symbols import BACKGROUND_TASKS, RET

__all__ = ["analyze", "analyze_tree", "parse"]

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
_TASK_STARTS = frozenset({"create_task", "ensure_future", "run_until_complete", "start_soon"})
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
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SINGLETONS = (None, True, False)  # Names in libcst


def signature_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature:
    a = node.args
    positional = [*a.posonlyargs, *a.args]
    required = len(positional) - len(a.defaults)
    return (
        tuple(p.arg for p in positional),
        required,
        tuple(p.arg for p in a.kwonlyargs),
        a.vararg is not None,
        a.kwarg is not None,
    )


def arg_shape(args: list[Arg]) -> ArgShape:
    star = any(a.star for a in args)
    keywords = tuple(a.keyword for a in args if a.keyword is not None)
    return sum(1 for a in args if a.keyword is None and not a.star), keywords, star


@dataclass
class _Loop:
    gets: list[tuple[frozenset[str], frozenset[str], str]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    forever: bool = False


class AstCollector(AstSiteRules):
    """Collects :class:`FileFacts` for one module (scopes + the shared site rules)."""

    def __init__(self, tree: ast.Module, source: Source, module: str, is_package: bool):
        self.scopes = build_scopes(tree)
        super().__init__(AstResolver(self.scopes, module, is_package))
        self.src = source
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
        self.h = AstHandlerScanner(self.r)
        for statement in tree.body:
            self.walk(statement)
        self.h.reads()

    def _position(self, node: ast.AST) -> tuple[int, int]:
        return self.src.position(node)

    # -- structure ------------------------------------------------------------------
    def _enter(self, kind: str, name: str) -> str:
        parts: list[str] = []
        for outer_kind, outer in self._path:
            parts.append(f"{outer}.<locals>" if outer_kind == "def" else outer)
        self._path.append((kind, name))
        return self.r.qualify(".".join([*parts, name]))

    def on_name(self, name: str) -> None:
        super().on_name(name)
        if self._loops:
            self._loops[-1].used.add(name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        super().visit_FunctionDef(node)
        name = self._enter("def", node.name)
        self._functions.append((name, {}))
        self.signatures[name] = signature_of(node)
        if node.decorator_list:
            self.h.decorators(node, name, self.src.decorator_position)
        if node.returns is not None:
            returned = self.r.annotation_types(node.returns)
            self.returns.setdefault(name, set()).update(returned)

    def leave_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        super().leave_FunctionDef(node)
        self._functions.pop()
        self._path.pop()

    def visit_Return(self, node: ast.Return) -> None:
        if self._functions and node.value is not None:
            names = self.r.receivers(node.value)
            self.returns.setdefault(self._function(), set()).update(names)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        name = self._enter("class", node.name)
        if "<locals>" in name:
            return
        self.classes[name] = tuple(s.name for s in node.body if isinstance(s, _DEFS))
        self.class_kinds[name] = self._class_kind(node)
        for base in _class_bases(node):
            if "threading.Thread" in self.r.fqns(base):
                self.thread_targets.add(f"{name}.run")

    def _class_kind(self, node: ast.ClassDef) -> str:
        for expr in node.decorator_list:
            names = self.r.fqns(expr.func if isinstance(expr, ast.Call) else expr)
            if any(n.startswith("dataclasses.") for n in names):
                return "dataclass"
            if any(n.startswith(("attr.", "attrs.")) for n in names):
                return "attrs"
        for base in _class_bases(node):
            names = self.r.fqns(base)
            if any(n.startswith("pydantic.") for n in names):
                return "pydantic"
            if names & {"typing.NamedTuple", "collections.namedtuple"}:
                return "namedtuple"
            if any(n.startswith("enum.") for n in names):
                return "enum"
            if any(n.startswith("typing.TypedDict") for n in names):
                return "typeddict"
        return "plain"

    def leave_ClassDef(self, node: ast.ClassDef) -> None:
        self._path.pop()

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._loops.append(_Loop())
        call = node.iter
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id == "iter"
        ):
            args = cst_args(call)
            first = args[0].value if args else None
            if isinstance(first, ast.Attribute) and first.attr in _GET_METHODS:
                queues = self.r.receivers(first.value)
                self._loops[-1].gets.append((queues, _target_names(node.target), self._function()))

    def visit_While(self, node: ast.While) -> None:
        self._loops.append(_Loop())
        test = node.test
        if isinstance(test, ast.UnaryOp):
            test = test.operand
        if _forever_test(test) and self._functions:
            self.forever.add(self._function())
            self._loops[-1].forever = True

    def leave_loop(self) -> None:
        loop = self._loops.pop()
        for queues, names, function in loop.gets:
            if names & loop.used:
                self.drain_candidates.append((queues, function))
        if self._loops:
            self._loops[-1].used |= loop.used
            self._loops[-1].gets.extend(loop.gets)

    def _function(self) -> str:
        return self._functions[-1][0] if self._functions else self.r.qualify("<module>")

    # -- assignments ------------------------------------------------------------------
    def visit_Global(self, node: ast.Global) -> None:
        if self._functions:
            self.h.note_global(self._function(), node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if self._functions:
            self.h.assigned(self._function(), node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        if self._functions:
            for target in node.targets:
                self.h.assigned(self._function(), target)

    def _assigned(self, targets: list[ast.expr], value: object) -> None:
        if self._functions:
            for target in targets:
                self.h.assigned(self._function(), target)
        elif not self._path:
            self.h.module_assignment(targets, value)

    def visit_Assign(self, node: ast.Assign) -> None:
        super().visit_Assign(node)
        self.r.note_assignment(node)
        self._assigned(node.targets, node.value)
        value: ast.expr = node.value
        if isinstance(value, ast.Await):
            value = value.value
        getter = _handed_get(value)
        got = None
        if getter is not None:
            got = getter
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute):
            got = value.func
        if got is not None and got.attr in _GET_METHODS and self._functions:
            names = frozenset().union(*(_target_names(t) for t in node.targets))
            queues = self.r.receivers(got.value)
            for queue in queues:
                self._functions[-1][1][queue] = names
            if self._loops:
                self._loops[-1].gets.append((queues, names, self._function()))
        self._note_values(node.targets, node.value)

    def _note_values(self, targets: list[ast.expr], value: ast.expr) -> None:
        if isinstance(value, ast.Call):
            values = {RET + n for n in self.r.fqns(value.func)}
            if not values and isinstance(value.func, ast.Name):
                owner = self.r.method_class(value.func)  # cls() in a classmethod
                values = {RET + owner} if owner else set()
        elif isinstance(value, (ast.Name, ast.Attribute)) or _singleton(value):
            values = set(self.r.receivers(value))
        else:
            return
        if not values:
            return
        for target in targets:
            for name in self.r.receivers(target):
                if not name.startswith(RET):
                    self.instances.setdefault(name, set()).update(values)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.r.note_assignment(node)
        self._assigned([node.target], node.value)
        if node.value is not None:
            self._note_values([node.target], node.value)
        if not self._functions or isinstance(node.target, ast.Attribute):
            types = self.r.annotation_types(node.annotation)
            for name in self.r.receivers(node.target):
                self.instances.setdefault(name, set()).update(types)

    # -- calls -------------------------------------------------------------------------
    def visit_Call(self, node: ast.Call) -> None:
        super().visit_Call(node)
        args = cst_args(node)
        if self._loops:
            self._loops[-1].used |= _used_names(node, args)
            if self._functions and any(loop.forever for loop in self._loops):
                self._drained_in_call(args)
        func = node.func
        self._thread_target(node, args)
        if not self._decorators:
            self.h.call(node, self._position)
        if self._functions:
            self.h.method_call(self._function(), node)
            if not self._decorators:
                called = self.r.callable_ids(func)
                self.callees.setdefault(self._function(), set()).update(called)
                why = next((_HOST_CALLS[c] for c in sorted(called) if c in _HOST_CALLS), None)
                if why is None and isinstance(func, ast.Attribute):
                    why = _HOST_METHODS.get(func.attr)
                if why is not None:
                    self.host.add((self._function(), why))
        if not isinstance(func, ast.Attribute):
            if isinstance(func, ast.Name) and self._functions and not self._decorators:
                self._plain_call(node, func, args)
            return
        method = func.attr
        if method not in ENQUEUE_METHODS:
            if self._functions and not self._decorators and method not in _NOISE:
                self._method_call(node, func, args)
            return
        receivers = self.r.receivers(func.value)
        if method in ("put", "put_nowait") and self._functions and args:
            first = args[0].value
            requeue = isinstance(first, ast.Name) and any(
                first.id in names and set(queues) & set(receivers)
                for loop in self._loops
                for queues, names, _ in loop.gets
            )
            if isinstance(first, ast.Name) and not requeue:
                gets = self._functions[-1][1]
                self.pools.update(q for q in receivers if first.id in gets.get(q, ()))
        awaited = id(node) in self._awaited
        if self._decorators or (awaited and method not in ("put", "put_nowait")):
            return
        background = isinstance(func.value, ast.Name) and bool(
            self.r.declared_types(func.value) & BACKGROUND_TASKS
        )
        function, payload = self._payload(args, method)
        line, col = self._position(node)
        item = payload[0] if payload and method != "add_task" else None
        prioritised = self._priority(item) if item is not None else ""
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
                priority=prioritised == "split",
                payload_class=payload_class(item, self.r) if item is not None else None,
                startup=bool(self._frames) and self._frames[-1].startup,
                receiver_text=self.src.code(func.value, self._statements[-1]),
                captures=self._captures(args[0].value) if background and args else (),
                awaited=awaited,
                priority_unsplit=prioritised == "unsplit",
                shape=arg_shape(args[1:] if method == "add_task" else args[:1]),
            )
        )

    def _drained_in_call(self, args: list[Arg]) -> None:
        """``print("sending", q.get())`` in a forever loop: the item is used as it is got."""
        for arg in args:
            value = arg.value.value if isinstance(arg.value, ast.Await) else arg.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr in _GET_METHODS
            ):
                queues = self.r.receivers(value.func.value)
                self.drain_candidates.append((queues, self._function()))

    def _priority(self, item: ast.expr) -> str:
        if not isinstance(item, ast.Tuple) or not item.elts:
            return ""
        return priority_shape(item, self.src.code(item.elts[0], self._statements[-1]))

    def _method_call(self, node: ast.Call, func: ast.Attribute, args: list[Arg]) -> None:
        receivers = self.r.receivers(func.value)
        if not receivers and func.attr not in CANDIDATE_METHODS:
            return
        line, col = self._position(node)
        self.calls.append(
            CallFact(
                line,
                col,
                func.attr,
                tuple(sorted(receivers)),
                False,
                None,
                payload_risks([a.value for a in args], self.r.fqns),
                enclosing=self._function(),
                startup=bool(self._frames) and self._frames[-1].startup,
                receiver_text=self.src.code(func.value, self._statements[-1]),
            )
        )

    def _plain_call(self, node: ast.Call, func: ast.Name, args: list[Arg]) -> None:
        ids = self.r.callable_ids(func)
        if not ids or any(i.startswith("builtins.") for i in ids):
            return
        line, col = self._position(node)
        self.calls.append(
            CallFact(
                line,
                col,
                func.id,
                (),
                False,
                None,
                payload_risks([a.value for a in args], self.r.fqns),
                enclosing=self._function(),
                callees=tuple(sorted(ids)),
                startup=bool(self._frames) and self._frames[-1].startup,
            )
        )

    def on_spawn(self, node: ast.Call, spawn: Spawn) -> None:
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
                arg_shape(list(spawn.args)) if spawn.args is not None else None,
                *self._parameter(node, spawn.function),
            )
        )

    def _parameter(self, node: ast.Call, expr: ast.expr) -> tuple[str, str]:
        """``coro_fn`` in ``def fire_and_forget(coro_fn, *args)``: the function run is a
        parameter, whatever the callers pass (and the call as written, for the message)."""
        if not isinstance(expr, ast.Name):
            return "", ""
        scope = self.scopes.scope_of.get(id(expr))
        if scope is None or expr.id not in scope:
            return "", ""
        bindings = scope.resolve(expr.id)
        if not bindings or not all(
            isinstance(b.node, ast.arg) and b.scope.kind == "function" for b in bindings
        ):
            return "", ""
        return expr.id, self.src.code(node.func, self._statements[-1])

    def _captures(self, expr: ast.expr) -> tuple[str, ...]:
        """A nested function's names bound in the functions around it (a closure)."""
        if not isinstance(expr, ast.Name):
            return ()
        scope = self.scopes.scope_of.get(id(expr))
        if scope is None or expr.id not in scope:
            return ()
        for binding in scope.resolve(expr.id):
            node = binding.node
            if not isinstance(node, _DEFS) or binding.scope.kind != "function":
                continue
            inner = self.scopes.function_scopes.get(id(node))
            if inner is None:
                continue
            names: set[str] = set()
            for access in inner.accesses:
                for referent in access.referents:
                    if (
                        referent.kind != "builtin"
                        and referent.scope is not inner
                        and referent.scope.kind == "function"
                        and referent.scope.encloses(inner)
                    ):
                        names.add(access.node.id if isinstance(access.node, ast.Name) else "")
            return tuple(sorted(n for n in names if n))
        return ()

    def _payload(self, args: list[Arg], method: str) -> tuple[str | None, list[ast.expr]]:
        if method != "add_task":
            return None, [args[0].value] if args else []
        if not args or args[0].keyword is not None or args[0].star:
            return None, [a.value for a in args]
        names = sorted(self.r.callable_ids(args[0].value))
        return (names[0] if names else None), [a.value for a in args[1:]]

    def _thread_target(self, node: ast.Call, args: list[Arg]) -> None:
        func = node.func
        target: ast.expr | None = None
        if isinstance(func, ast.Attribute) and func.attr in _EXECUTOR_METHODS:
            index = _EXECUTOR_METHODS[func.attr]
            positional = [a for a in args if a.keyword is None and not a.star]
            if len(positional) > index:
                target = positional[index].value
        elif any(n.endswith("Thread") or n.endswith(".Process") for n in self.r.fqns(func)):
            for arg in args:
                if arg.keyword == "target":
                    target = arg.value
        elif (
            (
                self.r.fqns(func) & {"asyncio.create_task", "asyncio.ensure_future", "asyncio.run"}
                or (isinstance(func, ast.Attribute) and func.attr in _TASK_STARTS)
            )
            and args
            and isinstance(args[0].value, ast.Call)
        ):
            target = args[0].value.func
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


def _class_bases(node: ast.ClassDef) -> list[ast.expr]:
    """libcst's ``bases``: the positional ones, ``*bases`` included."""
    return [b.value if isinstance(b, ast.Starred) else b for b in node.bases]


def _singleton(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Constant) and any(expr.value is c for c in _SINGLETONS)


def _forever_test(test: ast.expr) -> bool:
    """``while True`` / ``while running`` / ``while self.alive`` / ``while 1`` (libcst:
    a Name, an Attribute or an Integer)."""
    if isinstance(test, (ast.Name, ast.Attribute)):
        return True
    if isinstance(test, ast.Constant):
        value = test.value
        return value is None or isinstance(value, int)
    return False


def _handed_get(value: ast.expr) -> ast.Attribute | None:
    """``loop.run_in_executor(None, q.get)`` / ``asyncio.to_thread(q.get)``: the ``q.get``."""
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    position = {"run_in_executor": 1, "to_thread": 0}.get(name)
    args = cst_args(value) if position is not None else []
    if position is None or len(args) <= position:
        return None
    getter = args[position].value
    if isinstance(getter, ast.Attribute) and getter.attr in _GET_METHODS:
        return getter
    return None


def _target_names(target: ast.expr) -> frozenset[str]:
    if isinstance(target, ast.Name):
        return frozenset({target.id})
    if isinstance(target, (ast.Tuple, ast.List)):
        return frozenset().union(
            *(_target_names(e.value if isinstance(e, ast.Starred) else e) for e in target.elts)
        )
    return frozenset()


def _used_names(call: ast.Call, args: list[Arg]) -> set[str]:
    used = set()
    func = call.func
    if isinstance(func, ast.Name):
        used.add(func.id)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        used.add(func.value.id)
    for arg in args:
        value = arg.value
        if isinstance(value, ast.Name):
            used.add(value.id)
        elif isinstance(value, ast.Constant) and any(value.value is c for c in _SINGLETONS):
            used.add(str(value.value))
    return used


def parse(data: bytes) -> ast.Module:
    """``ast.parse`` without the warnings of old escape sequences."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(data)


def analyze(source: bytes, module: str, is_package: bool) -> FileFacts:
    """Parse ``source`` (no BOM) and collect its facts; raises SyntaxError, RecursionError."""
    return analyze_tree(parse(source), source, module, is_package)


def analyze_tree(tree: ast.Module, source: bytes, module: str, is_package: bool) -> FileFacts:
    """The facts of ``tree``, parsed from ``source``; raises RecursionError on deep trees."""
    collector = AstCollector(tree, Source(source), module, is_package)
    return replace(collector.facts(), says_queue=b"Queue" in source)
