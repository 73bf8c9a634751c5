"""Cross-file step: which receivers are task queues or task managers, and the final sites."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._analyze import CallFact, FileFacts
from ._handler_finder import HandlerFact, StateUse
from ._resolve import QUEUE_CLASSES, is_legacy_task_queue_class
from ._risks import Risk
from .config import MigrateConfig
from .results import HandlerSite, Site

SHARED_STATE = "shared-state"
_TAIL = "keep it in Redis or a database"
_STATE_MESSAGES = {
    "write": "writes module-level {v}: once the worker is another process the API no longer "
    "sees it; " + _TAIL,
    "rebind": "rebinds module-level {v} (global): once the worker is another process the API "
    "no longer sees it; " + _TAIL,
    "read": "reads module-level {v}, which other code writes: once the worker is another "
    "process it no longer sees those writes; " + _TAIL,
}
# Which registration methods count on which kind of receiver.
_QUEUE_METHODS = frozenset({"handler", "add_handler"})
_MANAGER_METHODS = frozenset({"register_handler"})


def _legacy(classes: Iterable[str]) -> bool:
    return any(is_legacy_task_queue_class(c) for c in classes)


class Linker:
    """Knows every analysed module's facts; classifies calls into sites."""

    def __init__(self, facts: Iterable[FileFacts], config: MigrateConfig) -> None:
        self.config = config
        self.task_queues: set[str] = set()
        instances: dict[str, set[str]] = {}
        holders: set[str] = set()
        manager_classes: set[str] = set()
        facts = list(facts)
        for f in facts:
            for obj, classes in f.instances:
                instances.setdefault(obj, set()).update(classes)
                queue_like = bool(QUEUE_CLASSES.intersection(classes)) or _legacy(classes)
                if queue_like:
                    holders.add(obj.rpartition(".")[0])
                if _legacy(classes) or (
                    QUEUE_CLASSES.intersection(classes) and obj in f.drained and obj not in f.pools
                ):
                    self.task_queues.add(obj)
        for f in facts:
            for cls, methods in f.classes:
                if "add_task" in methods and (
                    "register_handler" in methods or cls in f.threaded_classes or cls in holders
                ):
                    manager_classes.add(cls)
        self.managers = {o for o, c in instances.items() if c & manager_classes}
        self.legacy_queues = {o for o, c in instances.items() if _legacy(c)}
        self.mutable: set[str] = set()
        self.uses: list[StateUse] = []
        self.module_of: dict[str, str] = {}  # function -> its module, for messages
        for f in facts:
            self.mutable |= f.mutable_state
            self.uses.extend(f.state_uses)
            self.module_of.update((u.function, f.module) for u in f.state_uses)
        self.writers: dict[str, set[str]] = {}
        for use in self.uses:
            if use.kind != "read":
                self.writers.setdefault(use.variable, set()).add(use.function)

    def handler(self, path: str, fact: HandlerFact) -> HandlerSite | None:
        queue = self._handler_queue(fact)
        if queue is None:
            return None
        risks = self._state_risks(fact.function) if fact.function else ()
        return HandlerSite(
            path,
            fact.line,
            fact.col,
            queue,
            fact.name,
            fact.function,
            fact.max_retries,
            fact.retry_delay,
            risks,
        )

    def _display(self, variable: str, function: str) -> str:
        """The variable's short name when it lives in the function's own module."""
        module, _, short = variable.rpartition(".")
        return short if self.module_of.get(function) == module else variable

    def _handler_queue(self, fact: HandlerFact) -> str | None:
        for r in fact.receivers:
            if r in self.config.queues:
                return r
        for r in fact.receivers:
            if r in self.legacy_queues and fact.method in _QUEUE_METHODS:
                return r
            if r in self.managers and fact.method in _MANAGER_METHODS:
                return r
        return None

    def _state_risks(self, function: str) -> tuple[Risk, ...]:
        """One risk per module-level variable the handler (or a function nested in it)
        shares with other code: writes first, then reads of what others write."""
        inner = f"{function}.<locals>."
        mine = [u for u in self.uses if u.function == function or u.function.startswith(inner)]
        found: dict[str, str] = {}
        for use in mine:
            if use.kind == "rebind" or (use.kind == "write" and use.variable in self.mutable):
                if found.get(use.variable) != "write":
                    found[use.variable] = use.kind
        for use in mine:
            if use.kind != "read" or use.variable in found or use.variable not in self.mutable:
                continue
            others = {w for w in self.writers.get(use.variable, ()) if w not in _family(mine)}
            if others:
                found[use.variable] = "read"
        return tuple(
            Risk(SHARED_STATE, _STATE_MESSAGES[kind].format(v=self._display(v, function)))
            for v, kind in sorted(found.items())
        )

    def site(self, path: str, call: CallFact) -> Site | None:
        kind, queue, target = self._classify(call)
        if kind is None:
            return None
        return Site(path, call.line, call.col, kind, queue, target, call.risks)

    def _classify(self, call: CallFact) -> tuple[str | None, str | None, str | None]:
        queues: Mapping[str, str] = self.config.queues
        if call.method in ("put", "put_nowait"):
            for r in call.receivers:
                if r in queues:
                    return "queue_put", r, queues[r]
            for r in call.receivers:
                if r in self.task_queues:
                    return "queue_put", r, None
            return None, None, None
        if call.background:
            fn = call.function
            return "background_task", fn, self.config.functions.get(fn) if fn else None
        for r in call.receivers:
            if r in queues:
                return "manager_add_task", r, queues[r]
        for r in call.receivers:
            if r in self.managers:
                return "manager_add_task", r, None
        return None, None, None


def _family(uses: list[StateUse]) -> set[str]:
    return {u.function for u in uses}


def owner_module(name: str, modules: Mapping[str, object]) -> str | None:
    """The longest proper prefix of ``name`` that is a module of the tree."""
    parts = name.split(".")
    for end in range(len(parts) - 1, 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def modules_needed(facts: Iterable[FileFacts], config: MigrateConfig) -> set[str]:
    """Modules whose facts decide a receiver seen in ``facts`` (its definition, its class)."""
    facts = list(facts)
    wanted: set[str] = set()
    receivers: set[str] = set()
    handlers: set[str] = set()
    for f in facts:
        for call in f.calls:
            receivers.update(r for r in call.receivers if r not in config.queues)
        for h in f.handlers:
            receivers.update(r for r in h.receivers if r not in config.queues)
            if h.function and "<locals>" not in h.function:
                handlers.add(h.function)  # its module says what state it touches
    wanted |= handlers
    for f in facts:  # the modules of what handlers write say whether it is mutable
        wanted.update(u.variable for u in f.state_uses if u.function in handlers)
    wanted |= receivers
    for f in facts:
        for obj, classes in f.instances:
            if obj in receivers:
                wanted.update(classes)
    return wanted
