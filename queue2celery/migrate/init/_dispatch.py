"""A legacy queue's consumer loop, and the dispatch it does, read statically.

The loop (``while True: job = q.get() ... HANDLERS[job["type"]](**job["payload"])``) tells
``adopt`` everything it needs: the item's variable, the handlers mapping, the route and the
call. When the body is anything but such a simple dispatch, nothing is guessed: the caller
writes a stub that quotes the loop.
"""

from __future__ import annotations

import ast
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass

from ._project import Module, Project

__all__ = ["Consumer", "Dispatch", "QueueRef", "find_consumer", "locate_queue", "receiver_matches"]


@dataclass(frozen=True)
class QueueRef:
    """Where a legacy queue is built: a module-level name, or an attribute of a class's
    instances (``self.queue = PriorityQueue()`` in ``__init__``, or a class attribute)."""

    key: str  # the fully qualified name scan reported
    module: Module
    name: str  # the module-level name, or the attribute name
    owner_class: str | None  # the class whose instances hold it
    line: int
    instance: str | None = None  # a module-level instance of owner_class, if the key names one


@dataclass(frozen=True)
class Dispatch:
    """What ``adopt`` is given. Expressions are source text over ``item_var`` (and ``owner``
    for the instance that holds the queue)."""

    item_var: str
    run: str | None = None  # "module:function" or "owner.method"
    handlers: str | None = None  # "module:NAME" or "owner.attr"
    route: str | None = None  # an expression over item_var
    call: str | None = None  # an expression over fn and item_var, None for fn(item)
    awaited: bool = False


@dataclass(frozen=True)
class Consumer:
    """A loop that drains the queue, and its dispatch when it is a simple one."""

    module: Module
    function: str
    line: int
    loop_source: str
    dispatch: Dispatch | None
    reason: str | None  # why the dispatch could not be read, when it could not


def locate_queue(project: Project, key: str) -> QueueRef | None:
    """Find the statement that builds the queue scan named ``key``."""
    found = project.find(key)
    if found is None:
        return None
    module, rest = found
    parts = rest.split(".")
    if len(parts) == 1:
        node = module.top_level(parts[0])
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            return None
        if node is not None and isinstance(node, ast.Assign | ast.AnnAssign):
            instance_of = _instance_class(node)
            cls = module.top_level(instance_of) if instance_of else None
            if isinstance(cls, ast.ClassDef):
                attr = _queue_attribute(cls)
                if attr is not None:
                    return QueueRef(key, module, attr[0], cls.name, attr[1], parts[0])
            return QueueRef(key, module, parts[0], None, node.lineno)
        return None
    if len(parts) == 2:
        cls = module.top_level(parts[0])
        if isinstance(cls, ast.ClassDef):
            line = _attribute_line(cls, parts[1])
            if line is not None:
                return QueueRef(key, module, parts[1], cls.name, line)
    return None


def _instance_class(node: ast.Assign | ast.AnnAssign) -> str | None:
    value = node.value
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        return value.func.id
    return None


def _is_queue_call(value: ast.expr | None) -> bool:
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name.endswith("Queue")


def _queue_attribute(cls: ast.ClassDef) -> tuple[str, int] | None:
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign | ast.AnnAssign) and _is_queue_call(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _is_self(target.value):
                    return target.attr, node.lineno
                if isinstance(target, ast.Name):
                    return target.id, node.lineno
    return None


def _attribute_line(cls: ast.ClassDef, attr: str) -> int | None:
    for node in ast.walk(cls):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == attr:
                    return node.lineno
                if isinstance(target, ast.Name) and target.id == attr:
                    return node.lineno
    return None


def _is_self(expr: ast.expr) -> bool:
    return isinstance(expr, ast.Name) and expr.id in ("self", "cls")


def find_consumer(project: Project, ref: QueueRef) -> Consumer | None:
    """The first loop in the project that takes items off the queue."""
    for module, function, loop in _loops(project, ref):
        get = _get_statement(loop, ref, module)
        if get is None:
            continue
        stmt, item_var = get
        segment = ast.get_source_segment(module.source, loop)
        # The segment's first line starts at the loop, the others keep the file's indent.
        source = textwrap.dedent(" " * loop.col_offset + segment) if segment else ast.unparse(loop)
        dispatch, reason = _read_dispatch(loop, stmt, item_var, ref, module)
        return Consumer(module, function, loop.lineno, source, dispatch, reason)
    return None


def _loops(project: Project, ref: QueueRef) -> Iterator[tuple[Module, str, ast.While]]:
    # The queue's own module first: that is where managers keep their worker loop.
    ordered = [ref.module, *(m for m in project if m is not ref.module)]
    for module in ordered:
        for scope, loop in _while_loops(module.tree, ""):
            yield module, scope, loop


def _while_loops(node: ast.AST, scope: str) -> Iterator[tuple[str, ast.While]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield from _while_loops(child, f"{scope}.{child.name}".lstrip("."))
        elif isinstance(child, ast.While):
            yield scope, child
            yield from _while_loops(child, scope)
        else:
            yield from _while_loops(child, scope)


def receiver_matches(expr: ast.expr, ref: QueueRef, module: Module) -> bool:
    if ref.owner_class is not None:
        # self.queue / self._queue in a method of the owning class.
        return isinstance(expr, ast.Attribute) and expr.attr == ref.name and _is_self(expr.value)
    if isinstance(expr, ast.Name):
        if module is ref.module:
            return expr.id == ref.name
        return module.imports().get(expr.id) == ref.key
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
        return (
            expr.attr == ref.name
            and module.imports().get(expr.value.id) == ref.key.rsplit(".", 1)[0]
        )
    return False


def _get_statement(
    loop: ast.While, ref: QueueRef, module: Module
) -> tuple[ast.stmt, str] | None:
    for node in ast.walk(loop):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        value = node.value.value if isinstance(node.value, ast.Await) else node.value
        getter = _getter(value)
        if not (
            isinstance(getter, ast.Attribute)
            and getter.attr in ("get", "get_nowait")
            and receiver_matches(getter.value, ref, module)
        ):
            continue
        target = node.targets[0]
        if isinstance(target, ast.Tuple) and target.elts:
            target = target.elts[-1]  # (priority, item) / (priority, seq, item)
        if isinstance(target, ast.Name):
            return node, target.id
    return None


def _getter(value: ast.expr) -> ast.expr | None:
    """The ``q.get`` an item comes from: called directly, or handed to a thread from async
    code (``loop.run_in_executor(None, q.get)``, ``asyncio.to_thread(q.get)``)."""
    if not isinstance(value, ast.Call):
        return None
    func = value.func
    if isinstance(func, ast.Attribute) and func.attr == "run_in_executor" and len(value.args) >= 2:
        return value.args[1]
    if isinstance(func, ast.Attribute | ast.Name) and _last_name(func) == "to_thread":
        return value.args[0] if value.args else None
    return func


def _last_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return expr.id if isinstance(expr, ast.Name) else None


def _read_dispatch(
    loop: ast.While, get: ast.stmt, item_var: str, ref: QueueRef, module: Module
) -> tuple[Dispatch | None, str | None]:
    aliases: dict[str, tuple[ast.expr, ast.expr]] = {}  # h = HANDLERS[route] / .get(route)
    calls: list[tuple[ast.Call, bool]] = []
    for node in ast.walk(loop):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and node is not get:
            target, value = node.targets[0], node.value
            lookup = _lookup(value)
            if isinstance(target, ast.Name) and lookup is not None:
                aliases[target.id] = lookup
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            calls.append((node.value, True))
        elif isinstance(node, ast.Call) and not any(node is c for c, _ in calls):
            calls.append((node, False))
    for call, awaited in calls:
        lookup = _lookup(call.func)
        if lookup is None and isinstance(call.func, ast.Name):
            lookup = aliases.get(call.func.id)
        if lookup is None:
            continue
        mapping, route = lookup
        return _handlers_dispatch(mapping, route, call, awaited, item_var, ref, module)
    for call, awaited in calls:
        if _uses_only(call, item_var, allow_func=True) and _mentions(call, item_var):
            run = _callable_ref(call.func, ref, module)
            if run is not None and _plain_item_call(call, item_var):
                return Dispatch(item_var, run=run, awaited=awaited), None
    return None, "the loop body is not a simple dispatch (HANDLERS[...](...) or run(item))"


def _lookup(expr: ast.expr) -> tuple[ast.expr, ast.expr] | None:
    if isinstance(expr, ast.Subscript):
        return expr.value, expr.slice
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "get"
        and expr.args
    ):
        return expr.func.value, expr.args[0]
    return None


def _handlers_dispatch(
    mapping: ast.expr,
    route: ast.expr,
    call: ast.Call,
    awaited: bool,
    item_var: str,
    ref: QueueRef,
    module: Module,
) -> tuple[Dispatch | None, str | None]:
    handlers = _mapping_ref(mapping, ref, module)
    if handlers is None:
        return None, f"the handlers mapping {ast.unparse(mapping)!r} is not a module or self name"
    if not _uses_only(route, item_var):
        return None, f"the route {ast.unparse(route)!r} uses more than {item_var!r}"
    if not _uses_only(call, item_var, allow_func=True):
        return None, f"the call {ast.unparse(call)!r} uses more than {item_var!r}"
    call_text = None if _plain_item_call(call, item_var) else _call_template(call)
    return (
        Dispatch(
            item_var,
            handlers=handlers,
            route=ast.unparse(route),
            call=call_text,
            awaited=awaited,
        ),
        None,
    )


def _plain_item_call(call: ast.Call, item_var: str) -> bool:
    return (
        len(call.args) == 1
        and not call.keywords
        and isinstance(call.args[0], ast.Name)
        and call.args[0].id == item_var
    )


def _call_template(call: ast.Call) -> str:
    replaced = ast.Call(func=ast.Name("fn", ast.Load()), args=call.args, keywords=call.keywords)
    return ast.unparse(replaced)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _uses_only(node: ast.AST, item_var: str, allow_func: bool = False) -> bool:
    if allow_func and isinstance(node, ast.Call):
        parts: list[ast.AST] = [*node.args, *(k.value for k in node.keywords)]
        return all(_names(p) <= {item_var} for p in parts)
    return _names(node) <= {item_var}


def _mentions(call: ast.Call, item_var: str) -> bool:
    return any(item_var in _names(a) for a in [*call.args, *(k.value for k in call.keywords)])


def _mapping_ref(expr: ast.expr, ref: QueueRef, module: Module) -> str | None:
    if isinstance(expr, ast.Attribute) and _is_self(expr.value):
        return f"owner.{expr.attr}"
    if isinstance(expr, ast.Name):
        return _module_name_ref(expr.id, module)
    return None


def _callable_ref(expr: ast.expr, ref: QueueRef, module: Module) -> str | None:
    if isinstance(expr, ast.Attribute) and _is_self(expr.value):
        return f"owner.{expr.attr}"
    if isinstance(expr, ast.Name):
        return _module_name_ref(expr.id, module)
    return None


def _module_name_ref(name: str, module: Module) -> str | None:
    imported = module.imports().get(name)
    if imported is not None:
        head, _, attr = imported.rpartition(".")
        return f"{head}:{attr}" if head else None
    if module.top_level(name) is not None:
        return f"{module.name}:{name}"
    return None
