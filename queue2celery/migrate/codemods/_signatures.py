"""The signatures of the mapped tasks the tree defines, and whether a call fits one.

A manager's ``add_task(kind, data, priority=1)`` rewritten to a task that takes one item
would be a TypeError at run time (or send ``priority`` as a task argument). Such a call is
left as it is, with a warning; a task outside the tree (its signature unknown) is trusted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import libcst as cst

from .._files import SourceFile

__all__ = ["TaskSignature", "mismatch", "task_signatures"]


@dataclass(frozen=True)
class TaskSignature:
    positional: tuple[str, ...]  # bound ``self`` dropped
    required: int
    keyword_only: frozenset[str]
    required_keywords: frozenset[str]
    varargs: bool
    varkw: bool


def task_signatures(
    files: Iterable[SourceFile], targets: Iterable[str]
) -> dict[str, TaskSignature]:
    """``target -> signature`` for each target that is a module-level function of the tree."""
    wanted: dict[str, set[str]] = {}
    for target in targets:
        module, _, name = target.rpartition(".")
        wanted.setdefault(module, set()).add(name)
    out: dict[str, TaskSignature] = {}
    for f in files:
        names = wanted.get(f.module)
        if not names:
            continue
        try:
            tree = ast.parse(f.path.read_bytes())
        except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in names:
                out[f"{f.module}.{node.name}"] = _signature(node)
    return out


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> TaskSignature:
    args = node.args
    positional = [a.arg for a in (*args.posonlyargs, *args.args)]
    required = len(positional) - len(args.defaults)
    if positional and positional[0] in ("self", "cls") and _bound(node):
        positional, required = positional[1:], required - 1
    kwonly = frozenset(a.arg for a in args.kwonlyargs)
    needed = frozenset(
        a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None
    )
    return TaskSignature(
        tuple(positional),
        max(required, 0),
        kwonly,
        needed,
        args.vararg is not None,
        args.kwarg is not None,
    )


def _bound(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``@app.task(bind=True)``: Celery passes the task itself as the first argument."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "bind" and isinstance(keyword.value, ast.Constant):
                    return bool(keyword.value.value)
    return False


def mismatch(target: str, signature: TaskSignature | None, args: Sequence[cst.Arg]) -> str | None:
    """Why ``target(*args)`` would not fit the task's signature, or None."""
    if signature is None or any(a.star for a in args):
        return None
    given = sum(1 for a in args if a.keyword is None)
    keywords = [a.keyword.value for a in args if a.keyword is not None]
    params = signature.positional
    unknown = [k for k in keywords if k not in params and k not in signature.keyword_only]
    if unknown and not signature.varkw:
        return f"{target} takes no argument {unknown[0]!r}"
    if given > len(params) and not signature.varargs:
        return f"{target} takes {len(params)} positional argument(s), the call passes {given}"
    covered = given + sum(1 for k in keywords if k in params[given : signature.required])
    if covered < signature.required:
        return f"{target} needs {signature.required} argument(s), the call passes {covered}"
    missing = signature.required_keywords - set(keywords)
    if missing:
        return f"{target} needs the keyword argument {sorted(missing)[0]!r}"
    return None
