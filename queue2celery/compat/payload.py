"""Payload checks: exact errors for what Celery cannot carry, warnings for what it changes.

Whether a payload can travel is decided by kombu with the serializer the app is
configured with, during the one serialization the send needs anyway. Only after kombu
refuses is the payload walked, to name the path of the offending value. Drift (a value that
arrives as a different type) is found by a cheap type walk that builds no paths unless it
finds something.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from decimal import Decimal
from types import FunctionType, LambdaType, MethodType
from typing import Any

from kombu.exceptions import EncodeError
from kombu.serialization import dumps as kombu_dumps

from ..errors import PayloadError

__all__ = ["DRIFT_SERIALIZERS", "drift", "encode", "unserializable"]

# Serializers that turn tuples into lists and dict keys into strings.
DRIFT_SERIALIZERS = frozenset({"json", "msgpack"})

_PLAIN = frozenset({str, int, float, bool, type(None)})
# kombu's JSON tags these and gives back the same type on the other side.
_CARRIED = frozenset({_dt.datetime, _dt.date, _dt.time, uuid.UUID, Decimal, bytes})


def encode(body: Any, serializer: str) -> tuple[str, str, bytes | str]:
    """kombu's ``(content_type, content_encoding, data)``; raises EncodeError as kombu does."""
    return kombu_dumps(body, serializer=serializer)


def _serializer_label(serializer: str) -> str:
    return "JSON" if serializer == "json" else serializer


def _hint(value: Any) -> str:
    if isinstance(value, (set, frozenset)):
        return "convert it to a sorted list before put"
    if isinstance(value, _dt.timedelta):
        return "send value.total_seconds() (a float) instead"
    if isinstance(value, (FunctionType, LambdaType, MethodType)) or callable(value):
        return "send the name of what to call, or the data it needs, not the callable"
    return "send plain data (dict, list, str, int, float, bool, None) instead"


def _key_part(key: Any) -> str:
    if isinstance(key, str):
        # Double quotes, as users read and write them in JSON: payload["files"][1].
        return '["' + key.replace("\\", "\\\\").replace('"', '\\"') + '"]'
    return f"[{key!r}]"


def _join(parts: list[str]) -> str:
    return "payload" + "".join(reversed(parts))


def _refused(value: Any, serializer: str) -> bool:
    try:
        kombu_dumps(value, serializer=serializer)
    except EncodeError:
        return True
    return False


def _find_refused(value: Any, serializer: str, parts: list[str]) -> str | None:
    """Append the path (innermost first) and return the reason, or None if all is fine."""
    kind = type(value)
    if kind in _PLAIN:
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int, float, bool, type(None))) and _refused(
                {key: None}, serializer
            ):
                parts.append(f"[{key!r}]")
                return (
                    f"dict key {key!r} ({type(key).__name__}) is not "
                    f"{_serializer_label(serializer)} serializable; use str keys"
                )
            reason = _find_refused(item, serializer, parts)
            if reason is not None:
                parts.append(_key_part(key))
                return reason
        return None
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            reason = _find_refused(item, serializer, parts)
            if reason is not None:
                parts.append(f"[{index}]")
                return reason
        return None
    if _refused(value, serializer):
        return (
            f"{type(value).__name__} is not {_serializer_label(serializer)} serializable "
            f"({value!r:.80}); {_hint(value)}"
        )
    return None


def unserializable(item: Any, serializer: str, cause: BaseException) -> PayloadError:
    """The PayloadError naming where in ``item`` kombu refused (call after it refused)."""
    parts: list[str] = []
    reason = _find_refused(item, serializer, parts)
    if reason is None:
        # kombu refused the whole message but no single value: report kombu's own words.
        reason = f"not {_serializer_label(serializer)} serializable: {cause}"
    path = _join(parts)
    return PayloadError(f"{path}: {reason}; nothing was enqueued", path=path)


def _find_drift(value: Any, parts: list[str]) -> str | None:
    kind = type(value)
    if kind in _PLAIN or kind in _CARRIED:
        return None
    if kind is list:
        for index, item in enumerate(value):
            if type(item) in _PLAIN:
                continue
            reason = _find_drift(item, parts)
            if reason is not None:
                parts.append(f"[{index}]")
                return reason
        return None
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                parts.append(f"[{key!r}]")
                return (
                    f"dict key {key!r} ({type(key).__name__}) arrives as the string "
                    f"{_string_key(key)!r}"
                )
            if type(item) in _PLAIN:
                continue
            reason = _find_drift(item, parts)
            if reason is not None:
                parts.append(_key_part(key))
                return reason
        return None
    if isinstance(value, tuple):
        return f"{kind.__name__} arrives as a list"
    base = next((b for b in kind.__mro__[1:] if b in _PLAIN or b in (list, dict)), None)
    if base is not None:
        return f"{kind.__name__} arrives as a plain {base.__name__}"
    return f"{kind.__name__} does not arrive as itself (the serializer converts it)"


def _string_key(key: Any) -> str:
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key) if not isinstance(key, float) else repr(key)


def drift(item: Any) -> tuple[str, str] | None:
    """``(path, what changes)`` for the first value that would not arrive unchanged, or None."""
    if type(item) in _PLAIN:
        return None
    parts: list[str] = []
    reason = _find_drift(item, parts)
    if reason is None:
        return None
    return _join(parts), reason
