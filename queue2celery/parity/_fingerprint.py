"""Type-exact fingerprints of values, and the first place two of them differ.

A fingerprint is a JSON-able tree (``{"t": "tuple", "v": [...]}``) that keeps every type
all the way down: tuple vs list, ``1`` vs ``"1"`` as a dict key, datetime vs str. The
Celery worker records fingerprints into Redis as JSON, so both sides compare like for like.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Difference",
    "describe",
    "differences",
    "fingerprint",
    "first_difference",
    "type_name",
]

Fp = dict[str, Any]

# Past these sizes a node keeps a digest instead of its full value: a 10 MB payload must
# not become a 10 MB record, and equal digests still mean equal values.
_MAX_STR = 200
_MAX_ITEMS = 1000
_MAX_DEPTH = 40

_SCALARS = (bool, int, float, type(None))
_TEXTUAL: dict[type, str] = {
    _dt.datetime: "datetime",
    _dt.date: "date",
    _dt.time: "time",
    _dt.timedelta: "timedelta",
    uuid.UUID: "UUID",
    decimal.Decimal: "Decimal",
}


def type_name(value: Any) -> str:
    """``tuple`` for builtins and the stdlib types above, ``module.Class`` for the rest."""
    cls = type(value)
    if cls in _TEXTUAL:
        return _TEXTUAL[cls]
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def fingerprint(value: Any) -> Fp:
    """The type-exact, JSON-able fingerprint of ``value``."""
    return _fp(value, 0, set())


def _fp(value: Any, depth: int, active: set[int]) -> Fp:
    name = type_name(value)
    if depth > _MAX_DEPTH:
        return {"t": name, "v": "<too deep>"}
    if isinstance(value, _SCALARS):
        if isinstance(value, float):
            return {"t": name, "v": repr(value)}
        return {"t": name} if value is None else {"t": name, "v": value}
    if isinstance(value, str):
        if len(value) <= _MAX_STR:
            return {"t": name, "v": value}
        return {"t": name, "len": len(value), "sha": _digest(value), "head": value[:40]}
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
        if len(raw) <= _MAX_STR:
            return {"t": name, "v": raw.hex()}
        return {"t": name, "len": len(raw), "sha": hashlib.sha256(raw).hexdigest()[:16]}
    if type(value) in _TEXTUAL:
        return {"t": name, "v": value.isoformat() if hasattr(value, "isoformat") else str(value)}
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        if id(value) in active:
            return {"t": name, "v": "<cycle>"}
        active.add(id(value))
        try:
            return _container(value, name, depth, active)
        finally:
            active.discard(id(value))
    fields = _object_fields(value)
    if fields is not None:
        # Objects (dataclasses, pydantic models, attrs classes) field by field, so drift
        # inside one is found with its path: payload.tags.
        if id(value) in active:
            return {"t": name, "v": "<cycle>"}
        active.add(id(value))
        try:
            pairs = [
                [{"t": "str", "v": f}, _fp(getattr(value, f, None), depth + 1, active)]
                for f in fields
            ]
        finally:
            active.discard(id(value))
        return {"t": name, "o": 1, "v": pairs}
    text = repr(value)
    return {"t": name, "v": text if len(text) <= _MAX_STR else text[:_MAX_STR] + "..."}


def _object_fields(value: Any) -> tuple[str, ...] | None:
    cls = type(value)
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls))
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(cls, "model_validate"):
        return tuple(model_fields)
    attrs = getattr(cls, "__attrs_attrs__", None)
    if attrs is not None:
        return tuple(a.name for a in attrs)
    return None


def _container(value: Any, name: str, depth: int, active: set[int]) -> Fp:
    if isinstance(value, dict):
        items: list[Any] = [
            [_fp(k, depth + 1, active), _fp(v, depth + 1, active)] for k, v in value.items()
        ]
    elif isinstance(value, (set, frozenset)):
        items = sorted((_fp(v, depth + 1, active) for v in value), key=_canonical)
    else:
        items = [_fp(v, depth + 1, active) for v in value]
    if len(items) <= _MAX_ITEMS:
        return {"t": name, "v": items}
    return {"t": name, "len": len(items), "sha": _digest(_canonical(items)), "head": items[:3]}


def _canonical(node: Any) -> str:
    return json.dumps(node, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Difference:
    """Where two fingerprints first differ: ``path`` and the two nodes found there."""

    path: str
    legacy: Fp | None
    celery: Fp | None
    reason: str  # "type" | "value" | "length" | "key_type" | "missing_key" | "extra_key"


def first_difference(legacy: Fp, celery: Fp, path: str = "payload") -> Difference | None:
    """The first difference between two fingerprints in depth-first order, else None."""
    return next(_differences(legacy, celery, path), None)


def differences(legacy: Fp, celery: Fp, path: str = "payload", limit: int = 50) -> list[Difference]:
    """Every difference (up to ``limit``) in depth-first order: one per differing key."""
    found: list[Difference] = []
    for diff in _differences(legacy, celery, path):
        found.append(diff)
        if len(found) >= limit:
            break
    return found


def _differences(legacy: Fp, celery: Fp, path: str) -> Iterator[Difference]:
    if legacy.get("t") != celery.get("t"):
        yield Difference(path, legacy, celery, "type")
        return
    lv, cv = legacy.get("v"), celery.get("v")
    if "sha" in legacy or "sha" in celery:
        if legacy.get("sha") != celery.get("sha") or legacy.get("len") != celery.get("len"):
            yield Difference(path, legacy, celery, "value")
        return
    if not isinstance(lv, list) or not isinstance(cv, list):
        if lv != cv:
            yield Difference(path, legacy, celery, "value")
        return
    if _is_mapping(lv) or _is_mapping(cv):
        yield from _dict_differences(lv, cv, path, legacy, celery)
        return
    for index, (a, b) in enumerate(zip(lv, cv, strict=False)):
        yield from _differences(a, b, f"{path}[{index}]")
    if len(lv) != len(cv):
        yield Difference(path, legacy, celery, "length")


def _is_mapping(items: list[Any]) -> bool:
    # Mappings (dict and its subclasses) hold [key, value] pairs; sequences hold nodes.
    return bool(items) and all(isinstance(i, list) for i in items)


def _dict_differences(
    lv: list[Any], cv: list[Any], path: str, legacy: Fp, celery: Fp
) -> Iterator[Difference]:
    attrs = bool(legacy.get("o"))
    celery_by_key = {_canonical(k): (k, v) for k, v in cv}
    legacy_keys = {_canonical(k) for k, _ in lv}
    # A key whose text matches but whose type changed: {1: "a"} arriving as {"1": "a"}.
    celery_by_text = {_key_text(k): k for k, _ in cv if _canonical(k) not in legacy_keys}
    for key, value in lv:
        sub = f"{path}.{key.get('v')}" if attrs else f"{path}[{_path_key(key)}]"
        match = celery_by_key.get(_canonical(key))
        if match is None:
            other = celery_by_text.get(_key_text(key))
            if other is not None:
                # The path names the mapping; the keys themselves are the two nodes.
                yield Difference(path, key, other, "key_type")
                continue
            yield Difference(sub, value, None, "missing_key")
            continue
        yield from _differences(value, match[1], sub)
    legacy_texts = {_key_text(k) for k, _ in lv}
    for key, value in cv:
        if _canonical(key) not in legacy_keys and _key_text(key) not in legacy_texts:
            yield Difference(f"{path}[{_path_key(key)}]", None, value, "extra_key")


def _path_key(key: Fp) -> str:
    # payload["coords"], like the JSON the payload turns into.
    if key.get("t") == "str" and "v" in key:
        return json.dumps(key["v"], ensure_ascii=False)
    return describe(key)


def _key_text(key: Fp) -> str:
    value = key.get("v")
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def describe(node: Fp | None, limit: int = 80) -> str:
    """A short Python-like rendering of a fingerprint node, for tables and details."""
    if node is None:
        return "(absent)"
    text = _describe(node)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _describe(node: Fp) -> str:
    name, value = node.get("t", "?"), node.get("v")
    if "sha" in node:
        return f"<{name} of {node.get('len')} items/chars, sha {node['sha']}>"
    if name == "NoneType":
        return "None"
    if name in ("int", "bool"):
        return repr(value)
    if name == "float":
        return str(value)
    if name == "str":
        return repr(value)
    if name in ("bytes", "bytearray") and isinstance(value, str):
        return repr(bytes.fromhex(value))
    if not isinstance(value, list):
        return f"{name}({value})" if name in _TEXTUAL.values() else f"<{name} {value}>"
    if name == "dict" or _is_mapping(value):
        inner = ", ".join(f"{_describe(k)}: {_describe(v)}" for k, v in value)
        return "{" + inner + "}" if name == "dict" else f"{name}({{{inner}}})"
    parts = ", ".join(_describe(v) for v in value)
    if name == "list":
        return f"[{parts}]"
    if name == "tuple":
        return f"({parts},)" if len(value) == 1 else f"({parts})"
    if name in ("set", "frozenset"):
        return f"{name}({{{parts}}})" if value else f"{name}()"
    return f"{name}([{parts}])"
