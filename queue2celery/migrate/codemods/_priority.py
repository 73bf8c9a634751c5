"""Which mapped queues are PriorityQueues, read where each is built.

scan says so through a put's ``priority-tuple`` risk, from the queue's class. Once the queue
is adopted (``self.queue = adopt_x(PriorityQueue(), self)``) its class is the compat queue's,
and the ``(priority, item)`` put would be sent whole; the statement that builds it still says
``PriorityQueue``. Read with ``ast``, like the rest of rewrite's tree facts.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping

from .._files import SourceFile

__all__ = ["built_as_priority_queues"]


def built_as_priority_queues(
    files: Iterable[SourceFile], queues: Mapping[str, str]
) -> frozenset[str]:
    """The mapped queue names whose building statement calls a ``...PriorityQueue()``."""
    by_module = {f.module: f for f in files if f.module}
    found: set[str] = set()
    for key in queues:
        for cut in range(1, key.count(".") + 1):  # the longest module name first
            module, rest = key.rsplit(".", cut)[0], key.split(".")[-cut:]
            source = by_module.get(module)
            if source is None:
                continue
            if _builds_priority_queue(source, rest):
                found.add(key)
            break
    return frozenset(found)


def _builds_priority_queue(source: SourceFile, rest: list[str]) -> bool:
    try:
        tree = ast.parse(source.path.read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    if len(rest) == 1:
        values = [v for name, v in _assignments(tree.body, self_attrs=False) if name == rest[0]]
    elif len(rest) == 2:
        cls = next(
            (n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == rest[0]), None
        )
        if cls is None:
            return False
        values = [v for name, v in _assignments(ast.walk(cls), self_attrs=True) if name == rest[1]]
    else:
        return False
    return any(_calls_priority_queue(v) for v in values)


def _assignments(nodes: Iterable[ast.AST], *, self_attrs: bool) -> list[tuple[str, ast.expr]]:
    out: list[tuple[str, ast.expr]] = []
    for node in nodes:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name):
                out.append((target.id, value))
            elif (
                self_attrs
                and isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in ("self", "cls")
            ):
                out.append((target.attr, value))
    return out


def _calls_priority_queue(value: ast.expr) -> bool:
    for node in ast.walk(value):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name.endswith("PriorityQueue"):
                return True
    return False
