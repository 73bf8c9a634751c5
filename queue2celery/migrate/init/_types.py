"""The payload classes that cross a queue: the ``types=`` of its ``adopt`` call.

Only classes ``adopt`` can carry are listed (dataclasses, pydantic models, attrs classes,
NamedTuples, Enums); a put of another class stays scan's ``object-payload`` risk.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from ._dispatch import QueueRef, receiver_matches
from ._project import Module, Project

__all__ = ["listed_classes", "payload_classes"]

_CARRIED_BASES = frozenset({"BaseModel", "NamedTuple", "Enum", "IntEnum", "StrEnum", "Flag"})
_CARRIED_DECORATORS = frozenset({"dataclass", "define", "frozen", "mutable", "s", "attrs"})


def payload_classes(project: Project, ref: QueueRef) -> tuple[str, ...]:
    """``module:Class`` of each carried class built in a put onto the queue."""
    found: set[str] = set()
    for module in project:
        built = _built_names(module)
        for node in ast.walk(module.tree):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("put", "put_nowait")
                and node.args
                and receiver_matches(node.func.value, ref, module)
            ):
                continue
            payload = node.args[0]
            if isinstance(payload, ast.Tuple) and payload.elts:
                payload = payload.elts[-1]
            names = []
            if isinstance(payload, ast.Call) and isinstance(payload.func, ast.Name):
                names.append(payload.func.id)
            elif isinstance(payload, ast.Name):
                names += built.get(payload.id, [])
            for name in names:
                spec = _carried_class(project, module, name)
                if spec is not None:
                    found.add(spec)
    return tuple(sorted(found))


def listed_classes(
    project: Project, names: Iterable[str], problems: list[tuple[str, str]]
) -> tuple[str, ...]:
    """``module:Class`` of each class the user listed in ``[tool.queue2celery] types`` (a
    class nested in a payload, which init cannot see being built): they cross every queue."""
    out: set[str] = set()
    for name in names:
        found = project.find(name)
        spec = None
        if found is not None and "." not in found[1]:
            spec = _carried_class(project, found[0], found[1])
        if spec is None:
            problems.append(
                (
                    f"types: {name}",
                    "not a dataclass, pydantic model, attrs class, NamedTuple or Enum of this "
                    "project: Celery's JSON cannot carry it",
                )
            )
            continue
        out.add(spec)
    return tuple(sorted(out))


def _built_names(module: Module) -> dict[str, list[str]]:
    """Variable -> the classes called to build it (``task = Task(...)``), module-wide: a
    put of ``task`` most often sits next to the line that built it."""
    built: dict[str, list[str]] = {}
    for node in ast.walk(module.tree):
        if (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Name)
        ):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    built.setdefault(target.id, []).append(node.value.func.id)
    return built


def _carried_class(project: Project, module: Module, name: str) -> str | None:
    imported = module.imports().get(name)
    if imported is not None:
        located = project.find(imported)
        if located is None or "." in located[1]:
            return None
        module, name = located
    node = module.top_level(name)
    if not isinstance(node, ast.ClassDef):
        return None
    bases = {_last(b) for b in node.bases}
    decorators = {_last(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}
    if bases & _CARRIED_BASES or decorators & _CARRIED_DECORATORS:
        return f"{module.name}:{name}"
    return None


def _last(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    return None
