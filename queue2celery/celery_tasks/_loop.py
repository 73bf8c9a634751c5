"""One event loop per worker process for async handlers and periodic functions.

A fresh ``asyncio.run`` per task would close the loop that an async client (an aiohttp
session, an async DB pool) bound itself to on the first task, and the second task would fail
with "attached to a different loop". So the loop is made once per process, on a daemon
thread, and every awaitable is run on it; a forked child makes its own (the parent's thread
does not survive a fork).
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["resolve", "run_awaitable"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _process_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid() or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="queue2celery-async", daemon=True
            )
            thread.start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def run_awaitable(awaitable: Awaitable[T]) -> T:
    """Run ``awaitable`` to completion on this process's loop and return its result."""
    loop = _process_loop()

    async def _await() -> T:
        return await awaitable

    return asyncio.run_coroutine_threadsafe(_await(), loop).result()


def resolve(value: Any) -> Any:
    """``value`` itself, or what it resolves to when it is awaitable.

    A coroutine object is never handed back as a task's result: that would be a SUCCESS
    that did nothing.
    """
    if inspect.isawaitable(value):
        return run_awaitable(value)
    return value
