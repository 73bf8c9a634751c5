"""Cross-file step: which receivers are task queues or task managers, and the final sites."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ._analyze import CallFact, FileFacts
from ._resolve import QUEUE_CLASSES, is_legacy_task_queue_class
from .config import MigrateConfig
from .results import Site


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
    for f in facts:
        for call in f.calls:
            receivers.update(r for r in call.receivers if r not in config.queues)
    wanted |= receivers
    for f in facts:
        for obj, classes in f.instances:
            if obj in receivers:
                wanted.update(classes)
    return wanted
