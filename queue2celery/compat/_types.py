"""Encoding an adopted queue's payload: listed classes become tagged objects, the rest is checked.

The tag format and the decoder live in ``legacy_queue._codec`` (the worker needs no kombu to
read them). Here an object of a listed class becomes ``{"__q2c__": tag, field: value, ...}``;
an object of any other class is refused with its path, before kombu would turn it into
something else or fail with no path. What kombu's serializer does with the leaves (datetime,
UUID, Decimal...) stays kombu's decision: each new leaf type is asked once.
"""

from __future__ import annotations

import datetime as _dt
import io
import socket
import threading
import uuid
from decimal import Decimal
from types import BuiltinMethodType, FunctionType, MethodType
from typing import Any

from kombu.exceptions import EncodeError
from kombu.serialization import dumps as kombu_dumps

from ..errors import PayloadError
from ..legacy_queue._codec import MAX_DEPTH, TAG, TypeTable, class_kind, tag_of

__all__ = ["TypeEncoder"]

_PLAIN = frozenset({str, int, float, bool, type(None)})
_CARRIED = frozenset({_dt.datetime, _dt.date, _dt.time, uuid.UUID, Decimal, bytes})
_LOCKS = (type(threading.Lock()), type(threading.RLock()), threading.Condition, threading.Event)
_NEVER = (
    FunctionType,
    MethodType,
    BuiltinMethodType,
    socket.socket,
    io.IOBase,
    threading.Thread,
) + _LOCKS


def _key(key: Any) -> str:
    return '["' + key + '"]' if isinstance(key, str) else f"[{key!r}]"


class TypeEncoder:
    """Turns one adopted queue's items into what Celery carries; raises PayloadError with paths."""

    def __init__(self, table: TypeTable, serializer: str) -> None:
        self.table = table
        self.serializer = serializer
        self._leaf_ok: set[type] = set(_CARRIED)

    def encode(self, item: Any) -> Any:
        if type(item) in _PLAIN:
            return item
        return self._encode(item, "payload", 0)

    def _encode(self, value: Any, path: str, depth: int) -> Any:
        kind = type(value)
        if kind in _PLAIN or kind in self._leaf_ok:
            return value
        if depth >= MAX_DEPTH:
            raise PayloadError(
                f"{path}: nested deeper than {MAX_DEPTH} levels; flatten the payload (nothing "
                "was enqueued)",
                path=path,
            )
        fields = self.table.fields.get(kind)
        if fields is not None:
            return self._object(value, kind, fields, path, depth)
        if kind is dict:
            if TAG in value:
                raise PayloadError(
                    f'{path}: the key "{TAG}" is reserved for queue2celery\'s type tag; rename '
                    "it (nothing was enqueued)",
                    path=path,
                )
            return {k: self._encode(v, path + _key(k), depth + 1) for k, v in value.items()}
        if kind is list or kind is tuple:
            out = [self._encode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            # A tuple stays a tuple: the drift check names it (it arrives as a list).
            return out if kind is list else tuple(out)
        if class_kind(kind) is None and isinstance(value, (dict, list)):
            # OrderedDict, defaultdict, UserList-likes: their items still need encoding.
            plain = dict(value) if isinstance(value, dict) else list(value)
            return self._encode(plain, path, depth)
        return self._leaf(value, kind, path)

    def _object(
        self, value: Any, kind: type, fields: tuple[str, ...], path: str, depth: int
    ) -> Any:
        if self.table.kinds[kind] == "enum":
            return {TAG: tag_of(kind), "value": self._encode(value.value, path + ".value", depth)}
        out: dict[str, Any] = {TAG: tag_of(kind)}
        for name in fields:
            out[name] = self._encode(getattr(value, name), f"{path}.{name}", depth + 1)
        return out

    def _leaf(self, value: Any, kind: type, path: str) -> Any:
        if isinstance(value, _NEVER) or (callable(value) and not isinstance(value, type)):
            raise PayloadError(
                f"{path}: {kind.__name__} {value!r:.60} cannot cross to a worker process (a "
                "callable, lock, socket, open file or thread means nothing there); send the data "
                "it stands for instead (nothing was enqueued)",
                path=path,
            )
        if class_kind(kind) is not None:
            raise PayloadError(
                f"{path}: {tag_of(kind)} is not in this queue's types, so it would not arrive "
                f"as itself; add it to adopt(..., types=[{kind.__name__}, ...]) or convert it "
                "to plain data before put (nothing was enqueued)",
                path=path,
            )
        try:
            kombu_dumps(value, serializer=self.serializer)
        except EncodeError:
            raise PayloadError(
                f"{path}: {kind.__name__} {value!r:.60} is not {self.serializer} serializable; "
                f"if it is one of the app's classes make it a dataclass and add it to types=, "
                "or convert it to plain data (nothing was enqueued)",
                path=path,
            ) from None
        self._leaf_ok.add(kind)
        return value
