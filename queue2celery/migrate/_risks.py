"""Payloads visible in the source that will not survive Celery's JSON serializer unchanged."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import libcst as cst

__all__ = [
    "RISKS",
    "Risk",
    "closure_risk",
    "host_risk",
    "object_risk",
    "payload_risks",
    "priority_risk",
    "requeue_risk",
    "sentinel_risk",
    "startup_risk",
]


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


# -- risks of the call itself (not of its payload's shape) --------------------------------
# adopt(types=...) carries classes whose fields it can read back: these declarations.
CARRIABLE = {
    "dataclass": "a dataclass",
    "pydantic": "a pydantic model",
    "attrs": "an attrs class",
    "namedtuple": "a NamedTuple",
    "enum": "an Enum",
    "typeddict": "a TypedDict (a plain dict on the wire)",
}


def sentinel_risk() -> Risk:
    return Risk(
        "sentinel",
        "a shutdown sentinel for the app's own consumer: it is never a task, keep it as it is",
    )


def priority_risk() -> Risk:
    return Risk(
        "priority-tuple",
        "a (priority, item) PriorityQueue entry: send the item with "
        "apply_async((item,), priority=...) (Celery on Redis: 0-9, 0 first), not the tuple",
    )


def object_risk(cls: str, kind: str | None, config: object) -> Risk:
    listed = cls in getattr(config, "types", ())
    if kind in CARRIABLE:
        how = f"it is {CARRIABLE[kind]}, so adopt(types=[{cls.rpartition('.')[2]}]) can carry it"
        if listed:
            how += " (listed in types)"
    elif kind == "plain":
        how = (
            "it is a plain class, which adopt(types=...) cannot carry: make it a dataclass "
            "or send its fields"
        )
    else:
        how = "its class is not in the tree, so whether adopt(types=...) can carry it is unknown"
    return Risk("object-payload", f"payload is a {cls} object; {how}")


def requeue_risk() -> Risk:
    return Risk(
        "requeue-in-consumer",
        "re-queued from inside the consumer loop: in Celery use the task's retry "
        "(self.retry(countdown=...)) or apply_async(countdown=/eta=), not a new task",
    )


def startup_risk() -> Risk:
    return Risk(
        "startup-reload",
        "re-puts work at startup (persisted or pending tasks): with Celery the broker keeps "
        "them, so every API start would send them all again; drop this loop after the move",
    )


def closure_risk(captures: tuple[str, ...]) -> Risk:
    names = ", ".join(captures)
    return Risk(
        "closure",
        f"runs a closure that captures {names}: move it to module level and pass "
        f"{names} as arguments before it can become a task",
    )


def host_risk(why: str) -> Risk:
    return Risk("host-bound", f"{why}: this must run on this host, keep it local")


def kwargs_risk(detail: str) -> Risk:
    return Risk("kwargs", detail)
