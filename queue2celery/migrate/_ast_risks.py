"""Payloads visible in the source that will not survive Celery's JSON serializer unchanged
(``ast`` side; the risks themselves are in :mod:`._risks`)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable

from ._risks import RISKS, Risk

__all__ = ["payload_risks"]

NamesOf = Callable[[ast.expr], frozenset[str]]


def payload_risks(values: Iterable[ast.expr], names_of: NamesOf) -> tuple[Risk, ...]:
    """The risks found in ``values``, each code once, in a stable order."""
    found: set[str] = set()
    for value in values:
        _walk(value, names_of, found)
    return tuple(RISKS[code] for code in RISKS if code in found)


def _walk(node: ast.AST, names_of: NamesOf, found: set[str]) -> None:
    if isinstance(node, ast.Lambda):
        found.add("lambda")
        return
    if isinstance(node, ast.Tuple):
        found.add("tuple-literal")
    elif isinstance(node, (ast.Set, ast.SetComp)):
        found.add("set-literal")
    elif isinstance(node, ast.Constant) and isinstance(node.value, bytes):
        found.add("bytes-literal")
    elif isinstance(node, ast.Dict):
        if any(key is not None and _non_string_key(key) for key in node.keys):
            found.add("dict-non-str-key")
    elif isinstance(node, ast.Call):
        _call_risk(node, names_of, found)
    elif (
        isinstance(node, ast.Subscript)
        and isinstance(node.slice, ast.Tuple)
        and not _parenthesized(node.slice)
    ):
        # x[a, b]: subscript elements in libcst, not a tuple (x[(a, b)] is one)
        _walk(node.value, names_of, found)
        for element in node.slice.elts:
            _walk(element, names_of, found)
        return
    for child in ast.iter_child_nodes(node):
        _walk(child, names_of, found)


def _parenthesized(node: ast.Tuple) -> bool:
    if not node.elts:
        return True
    first, last = node.elts[0], node.elts[-1]
    starts_before = (node.lineno, node.col_offset) < (first.lineno, first.col_offset)
    end = (node.end_lineno or 0, node.end_col_offset or 0)
    ends_after = end > (last.end_lineno or 0, last.end_col_offset or 0)
    return starts_before and ends_after


def _non_string_key(key: ast.expr) -> bool:
    if isinstance(key, ast.Tuple):
        return True
    if isinstance(key, ast.UnaryOp):
        key = key.operand
        return isinstance(key, ast.Constant) and _numeric(key.value)
    if isinstance(key, ast.Constant):
        value = key.value
        return value is None or isinstance(value, (bool, complex)) or _numeric(value)
    return False


def _numeric(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _call_risk(node: ast.Call, names_of: NamesOf, found: set[str]) -> None:
    names = names_of(node.func)
    if "builtins.frozenset" in names:
        found.add("frozenset")
    elif "builtins.set" in names:
        found.add("set-literal")
    elif "builtins.bytes" in names or "builtins.bytearray" in names:
        found.add("bytes-literal")
    elif _class_like(node.func):
        found.add("object-construction")


def _class_like(func: ast.expr) -> bool:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return isinstance(name, str) and name[:1].isupper() and not name.isupper()
