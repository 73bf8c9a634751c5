"""The type tag that lets an app's own classes cross the broker, and its decoder (stdlib only).

An object of a class listed in ``adopt(..., types=[...])`` travels as a plain JSON object
whose ``"__q2c__"`` key is the class's tag (``module:QualName``) and whose other keys are its
fields. The worker rebuilds it only if the tag belongs to a class the queue lists: the tag is
looked up in that table, never imported, so a message cannot make the worker load anything.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import ConfigError, PayloadError

__all__ = ["TAG", "TypeTable", "class_kind", "field_names", "tag_of"]

TAG = "__q2c__"
# A payload nested deeper than this is refused both ways (JSON decoders stop near 1,000).
MAX_DEPTH = 100


def tag_of(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def class_kind(cls: Any) -> str | None:
    """``dataclass``, ``pydantic``, ``attrs``, ``namedtuple``, ``enum`` or None."""
    if not isinstance(cls, type):
        return None
    if issubclass(cls, enum.Enum):
        return "enum"
    if dataclasses.is_dataclass(cls):
        return "dataclass"
    if hasattr(cls, "model_validate") and hasattr(cls, "model_fields"):
        return "pydantic"
    if hasattr(cls, "__attrs_attrs__"):
        return "attrs"
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        return "namedtuple"
    return None


def field_names(cls: type, kind: str) -> tuple[str, ...]:
    """The attributes that make up an instance (the ones sent and compared)."""
    if kind == "dataclass":
        return tuple(f.name for f in dataclasses.fields(cls))
    if kind == "pydantic":
        return tuple(cls.model_fields)  # type: ignore[attr-defined]
    if kind == "attrs":
        return tuple(a.name for a in cls.__attrs_attrs__)  # type: ignore[attr-defined]
    if kind == "namedtuple":
        return tuple(cls._fields)  # type: ignore[attr-defined]
    return ()


class TypeTable:
    """The classes one adopted queue may send, by tag."""

    def __init__(self, types: Iterable[Any]) -> None:
        self.by_tag: dict[str, type] = {}
        self.kinds: dict[type, str] = {}
        self.fields: dict[type, tuple[str, ...]] = {}
        for cls in types:
            kind = class_kind(cls)
            if kind is None:
                raise ConfigError(
                    f"types=[..., {cls!r}]: only dataclasses, pydantic models, attrs classes, "
                    "NamedTuples and Enums can cross the broker; list the payload classes "
                    "themselves (convert anything else to plain data before put)"
                )
            tag = tag_of(cls)
            if cls.__module__ == "__main__":
                raise ConfigError(
                    f"types=[..., {cls.__qualname__}]: a class defined in the script being run "
                    "(__main__) has another name in the worker process; move it to a module"
                )
            if "<locals>" in tag:
                raise ConfigError(
                    f"types=[..., {cls.__qualname__}]: a class defined inside a function cannot "
                    "be found by the worker process; define it at module level"
                )
            if tag in self.by_tag and self.by_tag[tag] is not cls:
                raise ConfigError(f"types: two different classes are both named {tag!r}")
            self.by_tag[tag] = cls
            self.kinds[cls] = kind
            self.fields[cls] = field_names(cls, kind)

    def __bool__(self) -> bool:
        return bool(self.by_tag)

    def decode(self, value: Any) -> Any:
        """``value`` with every tagged object rebuilt as its class (listed classes only)."""
        if not self.by_tag:
            return value
        return self._decode(value, "payload", 0)

    def _decode(self, value: Any, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise PayloadError(f"{path}: nested deeper than {MAX_DEPTH} levels; refused", path=path)
        if isinstance(value, list):
            return [self._decode(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if TAG not in value:
            return {k: self._decode(v, f'{path}["{k}"]', depth + 1) for k, v in value.items()}
        tag = value[TAG]
        cls = self.by_tag.get(tag) if isinstance(tag, str) else None
        if cls is None:
            raise PayloadError(
                f"{path}: the message names the type {tag!r}, which is not in this queue's "
                f"types ({', '.join(self.by_tag) or 'none'}); refused, nothing was imported. "
                "Add the class to adopt(..., types=[...]) in the code both sides run",
                path=path,
            )
        fields = {
            k: self._decode(v, f"{path}.{k}", depth + 1) for k, v in value.items() if k != TAG
        }
        return _build(cls, self.kinds[cls], fields, path)


def _build(cls: Any, kind: str, fields: Mapping[str, Any], path: str) -> Any:
    try:
        if kind == "enum":
            return cls(fields["value"])
        if kind == "namedtuple":
            return cls(**fields)
        if kind == "pydantic":
            return cls.model_validate(fields)
        # dataclasses and attrs: set the fields as they were, without running __init__ or
        # __post_init__ again (what pickle does too); frozen classes included.
        obj = cls.__new__(cls)
        for name, value in fields.items():
            object.__setattr__(obj, name, value)
        return obj
    except Exception as exc:
        raise PayloadError(
            f"{path}: could not rebuild {tag_of(cls)} from {dict(fields)!r:.120}: "
            f"{type(exc).__name__}: {exc}; did the class change between the sender and worker?",
            path=path,
        ) from exc
