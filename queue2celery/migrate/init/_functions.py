"""A Celery task for each function the app runs in the background (``BackgroundTasks``,
``create_task``, ``Thread``, ``submit``): its signature, copied from the function so that
``.delay()`` checks the call sites' arguments, and whether it must be awaited."""

from __future__ import annotations

import ast
from dataclasses import dataclass

from .._advice import local_function_advice
from ._project import Project

__all__ = ["FunctionTarget", "read_function"]


@dataclass(frozen=True)
class FunctionTarget:
    """A module-level function a legacy site runs."""

    qualified: str  # its fully qualified name
    module: str
    name: str
    is_async: bool
    parameters: str  # the parameter list to declare, without annotations
    arguments: str  # how the wrapper passes them on
    doc: str


def read_function(project: Project, qualified: str) -> FunctionTarget | str:
    """The function behind ``qualified``, or the reason no task can wrap it."""
    found = project.find(qualified)
    if found is None:
        return f"{qualified} is not defined in the scanned tree"
    module, rest = found
    local = local_function_advice(qualified, module.tree)
    if local is not None:
        return local
    if "." in rest:
        return (
            f"{qualified} is not a module-level function; move it to module level so a "
            "worker can import it"
        )
    node = module.top_level(rest)
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return f"{qualified} is not a function defined with def in {module.rel}"
    parameters, arguments = _signature(node.args)
    first_doc = (ast.get_docstring(node) or "").strip().splitlines()
    return FunctionTarget(
        qualified,
        module.name,
        node.name,
        isinstance(node, ast.AsyncFunctionDef),
        parameters,
        arguments,
        first_doc[0] if first_doc else "",
    )


def _signature(args: ast.arguments) -> tuple[str, str]:
    """``(parameters, arguments)``. Literal defaults are copied; when any default is another
    expression the wrapper takes ``*args, **kwargs`` instead, so it never evaluates the app's
    expressions and never shifts a positional argument."""
    defaults = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    if not all(_literal(d) for d in defaults):
        return "*args, **kwargs", "*args, **kwargs"
    positional = [*args.posonlyargs, *args.args]
    padded: list[ast.expr | None] = [None] * (len(positional) - len(args.defaults))
    padded += list(args.defaults)
    params: list[str] = []
    passed: list[str] = []
    for index, (arg, default) in enumerate(zip(positional, padded, strict=True)):
        params.append(arg.arg if default is None else f"{arg.arg}={ast.unparse(default)}")
        passed.append(arg.arg)
        if index + 1 == len(args.posonlyargs):
            params.append("/")
    if args.vararg is not None:
        params.append(f"*{args.vararg.arg}")
        passed.append(f"*{args.vararg.arg}")
    elif args.kwonlyargs:
        params.append("*")
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        params.append(arg.arg if kw_default is None else f"{arg.arg}={ast.unparse(kw_default)}")
        passed.append(f"{arg.arg}={arg.arg}")
    if args.kwarg is not None:
        params.append(f"**{args.kwarg.arg}")
        passed.append(f"**{args.kwarg.arg}")
    return ", ".join(params), ", ".join(passed)


def _literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True
