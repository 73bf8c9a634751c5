"""Where the app builds, at run time, the instance that holds a queue (``jobs =
JobManager(...)`` in lifespan, then ``register_all(jobs)``): quoted in the ``run_<queue>``
stub, so the user can give the worker an instance the same way."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ._project import Module, Project

__all__ = ["where_built"]

_MAX_LINES = 8


def where_built(project: Project, home: Module, cls: str) -> tuple[str, ...]:
    """A function that builds a ``cls`` (``x = Cls(...)``, or a factory's ``return
    Cls(...)``): its location, the building line and the lines that hand the instance to a
    function or register on it. The one that registers the most wins (lifespan over a bare
    factory), then the first found."""
    best: tuple[str, ...] = ()
    most = 0
    for module in project:
        for scope, function in _functions(module.tree, ""):
            found = _built_in(module, function, home, cls)
            if found is None or (best and len(found) <= most):
                continue
            head = f"{module.rel}:{found[0].lineno} ({scope}):"
            quoted = [
                ast.get_source_segment(module.source, stmt) or ast.unparse(stmt) for stmt in found
            ]
            best, most = (head, *(q.splitlines()[0] for q in quoted[:_MAX_LINES])), len(found)
    return best


def _functions(
    node: ast.AST, prefix: str
) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
            scope = f"{prefix}{child.name}"
            yield scope, child
            yield from _functions(child, f"{scope}.")
        elif isinstance(child, ast.ClassDef):
            yield from _functions(child, f"{prefix}{child.name}.")


def _built_in(
    module: Module,
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    home: Module,
    cls: str,
) -> list[ast.stmt] | None:
    name: str | None = None
    lines: list[ast.stmt] = []
    for stmt in function.body:
        if name is None:
            if isinstance(stmt, ast.Return) and _is_new(stmt.value, module, home, cls):
                return [stmt]  # a factory
            target = _builds(stmt, module, home, cls)
            if target is not None:
                name = target
                lines.append(stmt)
            continue
        if _hands_on(stmt, name):
            lines.append(stmt)
    return lines if name is not None else None


def _builds(stmt: ast.stmt, module: Module, home: Module, cls: str) -> str | None:
    """``x = Cls(...)`` (or ``x: Cls = Cls(...)``) building the project's ``cls``."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
        target, value = stmt.targets[0], stmt.value
    elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target, value = stmt.target, stmt.value
    else:
        return None
    if isinstance(target, ast.Name) and _is_new(value, module, home, cls):
        return target.id
    return None


def _is_new(value: ast.expr | None, module: Module, home: Module, cls: str) -> bool:
    """``Cls(...)``, the project's ``cls`` by its name here or as imported."""
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)):
        return False
    name = value.func.id
    if module is home and name == cls:
        return True
    return module.imports().get(name) == f"{home.name}.{cls}"


def _hands_on(stmt: ast.stmt, name: str) -> bool:
    """``register_all(x)`` or ``x.register(...)`` / ``x.add_handler(...)``: what the app does
    to the instance before it runs."""
    value = stmt.value if isinstance(stmt, ast.Expr) else None
    if isinstance(value, ast.Await):
        return False  # start/stop: the app's own loop, not the worker's business
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id == name and func.attr.startswith(("register", "add_handler"))
    return any(isinstance(a, ast.Name) and a.id == name for a in value.args)
