"""``adopt``: the app's own queue object, given the protocol the rest of the toolkit speaks.

The app keeps its ``queue.Queue`` (or LifoQueue, PriorityQueue, SimpleQueue, asyncio.Queue),
its producers' ``put`` calls, its consumer threads or tasks and its handlers. ``adopt`` only
says what the consumer loop does with one item (``run``, or ``handlers`` + ``route`` +
``call``), so that a Celery worker can do the same with the items the rollout sends it.
"""

from __future__ import annotations

import asyncio
import inspect
import queue as _queue
import threading
from collections.abc import Callable, Iterable, Mapping
from enum import Enum
from typing import Any

from ..errors import ConfigError
from ._codec import TypeTable
from ._handlers import Handler

__all__ = ["AdoptedQueue", "adopt"]

_PRIORITY_TYPES: tuple[type, ...] = (_queue.PriorityQueue, asyncio.PriorityQueue)
_KNOWN = "a queue.Queue, LifoQueue, PriorityQueue, SimpleQueue or asyncio.Queue"


def _is_queue(obj: Any) -> bool:
    if isinstance(obj, (_queue.Queue, _queue.SimpleQueue, asyncio.Queue)):
        return True
    # Queue-likes (multiprocessing.Queue, janus, gevent): the same producer/consumer methods.
    return all(callable(getattr(obj, m, None)) for m in ("put", "get", "put_nowait", "get_nowait"))


def _default_split(entry: Any) -> tuple[Any, Any]:
    # (prio, item) and (prio, seq, item): the first element orders, the last one is the job.
    if isinstance(entry, tuple) and len(entry) >= 2:
        return entry[0], entry[-1]
    return None, entry


def _task_name(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, Enum) and isinstance(key.value, str):
        return key.value
    raise ConfigError(
        f"handler key {key!r} ({type(key).__name__}): Celery task names are strings; key the "
        "handlers by str (or a str-valued Enum)"
    )


def _default_name(run: Callable[..., Any]) -> str:
    func = getattr(run, "__func__", run)
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not module or not qualname or module == "__main__" or "<" in qualname:
        raise ConfigError(
            f"run={run!r} has no name that is the same in every process (a lambda, a local "
            "function or __main__); pass adopt(..., name='app.process_job')"
        )
    return f"{module}.{qualname}"


class AdoptedQueue:
    """The app's queue with TaskQueue's protocol: ``handlers``, ``handler_for``, ``put``...

    ``put`` puts what it is given on the app's own queue, unchanged, for the app's own
    consumers; ``get``, ``task_done``, ``join`` and the rest are the app queue's own.
    """

    def __init__(
        self,
        target: Any,
        *,
        run: Callable[[Any], Any] | None,
        handlers: Mapping[Any, Callable[..., Any]] | None,
        route: Callable[[Any], Any] | None,
        call: Callable[[Callable[..., Any], Any], Any] | None,
        entry: Callable[[Any], tuple[Any, Any]] | None,
        sentinel: Any,
        types: Iterable[Any],
        name: str | None,
    ) -> None:
        self.queue = target
        self.is_async = isinstance(target, asyncio.Queue) or inspect.iscoroutinefunction(
            getattr(target, "put", None)
        )
        self.is_priority = entry is not None or isinstance(target, _PRIORITY_TYPES)
        self._split = entry if entry is not None else (_default_split if self.is_priority else None)
        self.sentinel = sentinel
        self.types = TypeTable(types)
        self._run = run
        self._live = handlers
        self._route = route
        self._call = call
        self.name = name if run is None else (name or _default_name(run))
        self._cache: dict[str, Handler] = {}
        self._overrides: dict[str, Handler] = {}
        self._held: dict[str, Any] = {}
        self._held_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<AdoptedQueue {type(self.queue).__name__} name={self.name!r}>"

    # -- what a worker runs ---------------------------------------------------------
    def _dispatcher(self, key: Any, task: str) -> Handler:
        live, call = self._live, self._call
        assert live is not None

        def dispatch(item: Any) -> Any:
            # Looked up per call: a handler replaced after adopt() is the one that runs.
            func = live[key]
            return call(func, item) if call is not None else func(item)

        dispatch.__name__ = dispatch.__qualname__ = task.rsplit(".", 1)[-1]
        dispatch.__module__ = getattr(live.get(key), "__module__", None) or __name__
        return Handler(task, dispatch)

    def _handler_named(self, key: Any) -> Handler:
        base = _task_name(key)
        task = f"{self.name}.{base}" if self.name else base
        override = self._overrides.get(task)
        if override is not None:
            return override
        handler = self._cache.get(task)
        if handler is None:
            handler = self._cache[task] = self._dispatcher(key, task)
        return handler

    @property
    def handlers(self) -> Mapping[str, Handler]:
        """Name -> Handler, read live from the app's mapping (later registrations count)."""
        if self._run is not None:
            assert self.name is not None
            return {self.name: self._overrides.get(self.name) or self._run_handler()}
        assert self._live is not None
        found = {}
        for key in list(self._live):
            handler = self._handler_named(key)
            found[handler.name] = handler
        return found

    def _run_handler(self) -> Handler:
        assert self.name is not None and self._run is not None
        handler = self._cache.get(self.name)
        if handler is None:
            run, call = self._run, self._call
            func = run if call is None else (lambda item: call(run, item))
            handler = self._cache[self.name] = Handler(self.name, func)
        return handler

    def handler_for(self, item: Any) -> Handler:
        """The handler for one item (the item itself, not a priority entry)."""
        if self._run is not None:
            assert self.name is not None
            return self._overrides.get(self.name) or self._run_handler()
        assert self._live is not None and self._route is not None
        key = self._route(item)
        if key not in self._live:
            known = ", ".join(repr(k) for k in self._live) or "none yet"
            raise ConfigError(
                f"route returned {key!r} for item {item!r:.80}, which is not a handler; known "
                f"handlers: {known}. Register it before put(), or fix route="
            )
        return self._handler_named(key)

    def add_handler(
        self, name: str, func: Callable[[Any], Any], *, max_retries: int = 0, retry_delay: float = 0
    ) -> Handler:
        """Run ``func`` under the task ``name`` instead of the app's function (parity's hook)."""
        handler = Handler(name, func, max_retries, retry_delay)
        self._overrides[name] = handler
        return handler

    def decode(self, item: Any) -> Any:
        """What arrived from the broker, with the listed classes rebuilt."""
        return self.types.decode(item)

    # -- entries ----------------------------------------------------------------------
    def split(self, entry: Any) -> tuple[Any, Any]:
        """``(priority or None, item)`` for what the app puts."""
        if self._split is None:
            return None, entry
        result = self._split(entry)
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ConfigError(
                f"entry={self._split!r} returned {result!r:.80}; it must return (priority, item)"
            )
        return result

    def is_sentinel(self, item: Any) -> bool:
        sentinel = self.sentinel
        if item is sentinel:
            return True
        return (
            type(item) is type(sentinel)
            and isinstance(item, (str, int, bytes))
            and (item == sentinel)
        )

    # -- the app's queue ---------------------------------------------------------------
    def hold(self, task_id: str, entry: Any) -> None:
        """Remember what the app put while it is being sent (a fallback puts the original)."""
        with self._held_lock:
            self._held[task_id] = entry

    def release(self, task_id: str) -> None:
        with self._held_lock:
            self._held.pop(task_id, None)

    def put(
        self,
        item: Any,
        block: bool = True,
        timeout: float | None = None,
        *,
        priority: int = 0,
        task_id: str | None = None,
    ) -> None:
        """Put ``item`` on the app's queue as is, for the app's consumers (None, like Queue)."""
        if task_id is not None:
            with self._held_lock:
                item = self._held.pop(task_id, item)
        if self.is_async:
            # From the sender's fallback (a thread without the queue's loop): never blocks.
            self.queue.put_nowait(item)
            return None
        self.queue.put(item, block, timeout)
        return None

    def put_nowait(self, item: Any, **_: Any) -> None:
        self.queue.put_nowait(item)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self.queue.get(*args, **kwargs)

    def get_nowait(self) -> Any:
        return self.queue.get_nowait()

    def task_done(self) -> None:
        done = getattr(self.queue, "task_done", None)
        if done is None:
            raise ConfigError(f"{type(self.queue).__name__} has no task_done(); nothing to mark")
        done()

    def join(self) -> Any:
        join = getattr(self.queue, "join", None)
        return join() if join is not None else None

    def qsize(self) -> int:
        return int(self.queue.qsize())

    def empty(self) -> bool:
        return bool(self.queue.empty())

    def full(self) -> bool:
        full = getattr(self.queue, "full", None)
        return bool(full()) if full is not None else False

    def status(self, task_id: str) -> dict[str, Any]:
        # Items on the app's queue are the app's: their outcome is not tracked here.
        return {"task_id": task_id, "status": "PENDING", "backend": "legacy"}

    def start(self) -> None:
        """The app starts its own consumers."""

    def stop(self, timeout: float | None = None) -> None:
        """The app stops its own consumers (with its sentinel)."""


def adopt(
    queue: Any,
    *,
    run: Callable[[Any], Any] | None = None,
    handlers: Mapping[Any, Callable[..., Any]] | None = None,
    route: Callable[[Any], Any] | None = None,
    call: Callable[[Callable[..., Any], Any], Any] | None = None,
    entry: Callable[[Any], tuple[Any, Any]] | None = None,
    sentinel: Any = None,
    types: Iterable[Any] = (),
    name: str | None = None,
) -> AdoptedQueue:
    """Give the app's own queue the protocol CompatQueue, register_handlers and parity use.

    ``run(item)`` is what the app's consumer does with one item (one Celery task, named
    ``name`` or run's module and qualified name); or ``handlers`` (a live name -> function
    mapping), ``route(item)`` -> name and ``call(handler, item)`` (one task per handler).
    ``entry(e)`` splits a priority queue's entry into ``(priority, item)``; ``sentinel`` is
    the stop item, never sent; ``types`` lists the classes that may cross the broker.
    """
    if hasattr(queue, "handler_for") and hasattr(queue, "handlers"):
        # A TaskQueue, an adopted queue or a CompatQueue: wrapping it again would send twice.
        raise ConfigError(
            f"adopt({type(queue).__name__}): this already is a task queue; pass it to "
            "CompatQueue/register_handlers directly"
        )
    if not _is_queue(queue):
        raise ConfigError(
            f"adopt({queue!r:.80}): expected {_KNOWN}, got {type(queue).__name__}; pass the "
            "queue object the app's consumers read"
        )
    if (run is None) == (handlers is None):
        raise ConfigError(
            "adopt(): pass run= (what the consumer loop does with one item) or handlers= with "
            "route= (a mapping of functions and how an item picks one), "
            + ("not both" if run is not None else "one of them")
        )
    if run is not None:
        if not callable(run):
            raise ConfigError(f"adopt(run={run!r:.80}): run must be a function or method")
        if route is not None:
            raise ConfigError("adopt(): route= goes with handlers=, not with run=")
    else:
        if not isinstance(handlers, Mapping):
            raise ConfigError(
                f"adopt(handlers={handlers!r:.80}): pass the mapping itself (a dict of name -> "
                "function, like the app's HANDLERS or a manager's self.handlers)"
            )
        if route is None or not callable(route):
            raise ConfigError(
                "adopt(handlers=...) needs route=: a function that returns the handler name for "
                "an item, e.g. route=lambda job: job['type']"
            )
    for label, value in (("call", call), ("entry", entry)):
        if value is not None and not callable(value):
            raise ConfigError(f"adopt({label}={value!r:.80}): {label} must be a function")
    return AdoptedQueue(
        queue,
        run=run,
        handlers=handlers,
        route=route,
        call=call,
        entry=entry,
        sentinel=sentinel,
        types=types,
        name=name,
    )
