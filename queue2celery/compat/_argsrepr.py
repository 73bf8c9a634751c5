"""Celery's ``argsrepr`` header without Celery's 120 µs ``saferepr`` for everyday payloads.

``saferepr`` streams tokens in pure Python; for a payload of plain dicts, lists, strings
and numbers that is shallow and short, its output is exactly the built-in ``repr``. This
module recognises that case with a quick type walk and uses ``repr`` (C speed); anything
else goes through ``saferepr`` itself. A property test compares both on random payloads.
"""

from __future__ import annotations

from typing import Any

from celery.utils.saferepr import saferepr

__all__ = ["argsrepr"]

_SCALARS = frozenset({int, float, bool, type(None)})


def _plain(value: Any, depth: int, maxlevels: int) -> bool:
    """True when saferepr(value) == repr(value) at this nesting depth (the args list is 1)."""
    kind = type(value)
    if kind in _SCALARS:
        return True
    if kind is str:
        # saferepr quotes with ' and escapes nothing but ': a ', a backslash or anything
        # repr would escape makes the two differ.
        return "'" not in value and "\\" not in value and value.isprintable()
    if kind is list:
        if depth > maxlevels:
            return False
        return all(_plain(v, depth + 1, maxlevels) for v in value)
    if kind is dict:
        if depth > maxlevels:
            return False
        for key, item in value.items():
            if not (type(key) in _SCALARS or _plain_str(key)):
                return False
            if not _plain(item, depth + 1, maxlevels):
                return False
        return True
    return False


def _plain_str(value: Any) -> bool:
    return type(value) is str and "'" not in value and "\\" not in value and value.isprintable()


def argsrepr(args: list[Any], maxsize: int, maxlevels: int) -> str:
    """Exactly ``saferepr(args, maxsize, maxlevels=maxlevels)``, fast when it can be."""
    if all(_plain(v, 2, maxlevels) for v in args):
        text = repr(args)
        # Below the size limit nothing is truncated (margin for saferepr's bookkeeping).
        if len(text) < maxsize - 8:
            return text
    return saferepr(args, maxsize, maxlevels=maxlevels)
