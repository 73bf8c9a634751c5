"""What to say about work run by a function that is not at module level (``f.<locals>.g``):
no ``[tool.queue2celery.functions]`` key can name it, so the advice must be something the
user can do: the callers decide when it is a parameter; otherwise move it out."""

from __future__ import annotations

import ast

__all__ = ["local_function_advice", "parameter_advice"]

_LOCALS = ".<locals>."


def local_function_advice(qualified: str, tree: ast.Module | None) -> str | None:
    """The advice for ``qualified`` when it is a ``<locals>`` name, else None. ``tree``: the
    module it is defined in (the site's), read to tell a parameter from a nested def."""
    if _LOCALS not in qualified:
        return None
    outer, _, name = qualified.rpartition(_LOCALS)
    function = _find(tree, outer) if tree is not None else None
    short = outer.rpartition(".")[2]
    if function is not None and name in _parameters(function):
        return parameter_advice(name, short)
    return (
        f"{name} is defined inside {short}(): move it to module level (its free names as "
        "parameters), then map it in [tool.queue2celery.functions] (no key can name a "
        "function inside a function)"
    )


def parameter_advice(name: str, function: str) -> str:
    """``name``, run by ``function`` (its short name), is one of its parameters."""
    return (
        f"{name} is a parameter of {function}(): its callers decide what runs. Map the "
        f"module-level functions they pass in [tool.queue2celery.functions] and call "
        f"those tasks' .delay(...) where {function}(...) is called (no key can name a "
        "parameter)"
    )


def _parameters(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    a = function.args
    names = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)}
    names |= {x.arg for x in (a.vararg, a.kwarg) if x is not None}
    return names


def _find(tree: ast.Module, dotted: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function ``pkg.mod.Class.method`` (or ``...f.<locals>.g``) names in ``tree``: the
    longest tail of ``dotted`` that is a path of definitions in the module."""
    parts = [p for p in dotted.split(".") if p != "<locals>"]
    for start in range(len(parts)):
        found = _walk(tree.body, parts[start:])
        if found is not None:
            return found
    return None


def _walk(body: list[ast.stmt], path: list[str]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        if node.name != path[0]:
            continue
        if len(path) == 1:
            return node if not isinstance(node, ast.ClassDef) else None
        return _walk(node.body, path[1:])
    return None
