"""What a periodic run received and returned, as type-exact fingerprints both sides share."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ._fingerprint import fingerprint, type_name

__all__ = ["describe_call", "describe_outcome"]


def describe_call(
    function: Callable[..., Any] | None, args: Any, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """The arguments by parameter name (as the function binds them), else by position."""
    if function is not None:
        try:
            bound = inspect.signature(function).bind(*args, **kwargs)
        except (TypeError, ValueError):
            pass
        else:
            return {name: fingerprint(value) for name, value in bound.arguments.items()}
    named = {f"args[{i}]": fingerprint(value) for i, value in enumerate(args)}
    named.update({name: fingerprint(value) for name, value in kwargs.items()})
    return named


def describe_outcome(state: str, retval: Any) -> dict[str, Any]:
    """``result`` (fingerprint) on success, ``error`` (type and message) on failure."""
    if state == "FAILURE" or isinstance(retval, BaseException):
        return {"error": {"type": type_name(retval), "message": str(retval)[:500]}}
    if state == "SUCCESS":
        return {"result": fingerprint(retval)}
    return {}
