"""Handlers: the functions a TaskQueue runs, each with its retry policy."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

__all__ = ["Handler", "HandlerRegistry"]


@dataclass(frozen=True)
class Handler:
    """A function that takes one item, and how often to retry it.

    ``max_retries`` has Celery's meaning: up to ``max_retries + 1`` attempts, waiting
    ``retry_delay`` seconds between them.
    """

    name: str
    func: Callable[[Any], Any]
    max_retries: int = 0
    retry_delay: float = 0.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ConfigError(
                f"handler {self.name!r}: max_retries={self.max_retries!r} must be 0 or more"
            )
        if self.retry_delay < 0:
            raise ConfigError(
                f"handler {self.name!r}: retry_delay={self.retry_delay!r} must be 0 or more"
            )


class HandlerRegistry:
    """Handlers by name, and the routing of an item to one of them."""

    def __init__(self, route: Callable[[Any], str] | None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._route = route

    @property
    def handlers(self) -> Mapping[str, Handler]:
        return MappingProxyType(self._handlers)

    def add(self, handler: Handler) -> Handler:
        self._handlers[handler.name] = handler
        return handler

    def handler_for(self, item: Any) -> Handler:
        if not self._handlers:
            raise ConfigError(
                "the queue has no handler: register one with @task_queue.handler before put()"
            )
        if self._route is None:
            if len(self._handlers) == 1:
                return next(iter(self._handlers.values()))
            raise ConfigError(
                f"the queue has {len(self._handlers)} handlers ({', '.join(self._handlers)}) and "
                "no route: pass TaskQueue(route=callable) returning a handler name per item"
            )
        name = self._route(item)
        try:
            return self._handlers[name]
        except KeyError:
            raise ConfigError(
                f"route returned {name!r} for item {item!r:.80}, which is not a handler; "
                f"known handlers: {', '.join(self._handlers)}"
            ) from None
