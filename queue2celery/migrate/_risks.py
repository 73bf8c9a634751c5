"""Payloads visible in the source that will not survive Celery's JSON serializer unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import libcst as cst

__all__ = ["RISKS", "Risk", "payload_risks"]


@dataclass(frozen=True)
class Risk:
    """One risky payload shape: a short stable code and what goes wrong."""

    code: str
    message: str


RISKS: dict[str, Risk] = {
    r.code: r
    for r in (
        Risk("tuple-literal", "tuple literal: JSON turns it into a list"),
        Risk("set-literal", "set literal: sets are not JSON serializable"),
        Risk("frozenset", "frozenset: not JSON serializable"),
        Risk("bytes-literal", "bytes literal: not JSON serializable"),
        Risk("lambda", "lambda: functions cannot be sent to another process"),
        Risk(
            "dict-non-str-key",
            "dict with non-string literal keys: JSON turns the keys into strings",
        ),
        Risk(
            "object-construction",
            "object constructed in the payload: Celery's JSON cannot carry it",
        ),
    )
}

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
