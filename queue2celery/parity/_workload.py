"""Finding and loading a parity workload, freshly for each backend.

A workload is a ``.py`` path or a dotted module defining ``task_queue``, ``workload(q)`` and
optionally ``observe()``. Each load is a new module object, so what one backend's run left in
module state cannot leak into the other's. The Celery worker loads it again, in its own process,
from a :class:`WorkloadSpec` (plain data that travels through an environment variable).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import HarnessError
from ..legacy_queue import AdoptedQueue, TaskQueue

__all__ = [
    "LoadedWorkload",
    "WorkloadSpec",
    "legacy_queue_of",
    "load_fresh",
    "spec_for_objects",
    "spec_for_target",
]


@dataclass(frozen=True)
class WorkloadSpec:
    """How to import a workload: ``kind`` is ``"path"`` (a file) or ``"module"`` (dotted name).

    ``attr`` names the TaskQueue inside it; ``fresh`` is False for the in-process form, where the
    caller's own module is used as is and only the worker imports it anew.
    """

    kind: str
    target: str
    attr: str = "task_queue"
    fresh: bool = True

    @property
    def label(self) -> str:
        return self.target if self.kind == "module" else os.path.basename(self.target)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WorkloadSpec:
        return cls(**data)


@dataclass
class LoadedWorkload:
    """One fresh load: the queue, the driver, the optional observer, and the module itself."""

    task_queue: TaskQueue | AdoptedQueue
    workload: Callable[[Any], Any] | None
    observe: Callable[[], Any] | None
    module: ModuleType | None = None


def spec_for_target(target: str | os.PathLike[str]) -> WorkloadSpec:
    """A spec for ``path/to/workload.py`` or ``package.module``."""
    text = os.fspath(target)
    if text.endswith(".py") or os.sep in text or (os.altsep and os.altsep in text):
        path = Path(text).resolve()
        if not path.is_file():
            raise HarnessError(
                f"workload file {text!r} does not exist; pass a .py path or a dotted module name"
            )
        return WorkloadSpec("path", str(path))
    if not all(part.isidentifier() for part in text.split(".")):
        raise HarnessError(
            f"workload {text!r} is neither a .py path nor a dotted module name like 'app.parity'"
        )
    return WorkloadSpec("module", text)


@contextmanager
def _importing(spec: WorkloadSpec) -> Iterator[None]:
    try:
        yield
    except HarnessError:
        raise
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise HarnessError(
            f"workload {spec.target!r} failed to import: {type(exc).__name__}: {exc}; "
            "run it with python to see the traceback and fix it"
        ) from exc


def _import_module(spec: WorkloadSpec) -> ModuleType:
    with _importing(spec):
        if spec.kind == "path":
            path = Path(spec.target)
            # Its own directory first, so the workload can import its sibling modules.
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))
            name = f"_q2c_parity_{path.stem}_{uuid.uuid4().hex[:8]}"
            loader_spec = importlib.util.spec_from_file_location(name, path)
            if loader_spec is None or loader_spec.loader is None:
                raise HarnessError(f"workload file {spec.target!r} cannot be loaded as Python")
            module = importlib.util.module_from_spec(loader_spec)
            # Registered while it runs (dataclasses and pickling look modules up by name).
            sys.modules[name] = module
            try:
                loader_spec.loader.exec_module(module)
            finally:
                sys.modules.pop(name, None)
            return module
        if spec.fresh:
            sys.modules.pop(spec.target, None)
            importlib.invalidate_caches()
        return importlib.import_module(spec.target)


def load_fresh(spec: WorkloadSpec) -> LoadedWorkload:
    """Import the workload anew and check it has what a workload needs."""
    module = _import_module(spec)
    task_queue = legacy_queue_of(getattr(module, spec.attr, None))
    if task_queue is None:
        found = type(getattr(module, spec.attr, None)).__name__
        raise HarnessError(
            f"workload {spec.label!r} has no task queue named {spec.attr!r} (found {found}); "
            f"define {spec.attr} = adopt(the_apps_queue, run=...) (or handlers=..., route=...) "
            "for the app's own queue, or a TaskQueue with its handlers"
        )
    if spec.fresh:
        # Dotted modules are dropped again so the next load (the other backend) is fresh too.
        if spec.kind == "module":
            sys.modules.pop(spec.target, None)
        workload = getattr(module, "workload", None)
        if not callable(workload):
            raise HarnessError(
                f"workload {spec.label!r} defines no workload(q) function; add one that makes "
                "the put calls to compare"
            )
    else:
        workload = None
    observe = getattr(module, "observe", None) if spec.fresh else None
    if observe is not None and not callable(observe):
        raise HarnessError(f"workload {spec.label!r}: observe must be a function, not {observe!r}")
    return LoadedWorkload(task_queue, workload, observe, module)


def legacy_queue_of(value: Any) -> TaskQueue | AdoptedQueue | None:
    """The TaskQueue or adopted queue itself, also when the app wraps it in a CompatQueue."""
    inner = getattr(value, "task_queue", None)
    if isinstance(inner, (TaskQueue, AdoptedQueue)) and hasattr(value, "sender"):
        return inner
    return value if isinstance(value, (TaskQueue, AdoptedQueue)) else None


def spec_for_objects(task_queue: TaskQueue | AdoptedQueue) -> WorkloadSpec:
    """The spec under which a worker can import ``task_queue`` and its handlers.

    The worker is another process: it can only reach module-level objects of importable modules.
    """
    if not task_queue.handlers:
        raise HarnessError("task_queue has no handlers: register them before running parity")
    for name, handler in task_queue.handlers.items():
        if isinstance(task_queue, AdoptedQueue):
            break  # its functions are reached through the queue's module, checked below
        func = handler.func
        qualname = getattr(func, "__qualname__", "")
        if "<locals>" in qualname:
            raise HarnessError(
                f"handler {name!r} is {qualname or func!r}, defined inside a function: the Celery "
                "worker is a separate process and imports handlers from their module; define it "
                "(and the TaskQueue) at module level in an importable module"
            )
    candidates = [getattr(h.func, "__module__", "") for h in task_queue.handlers.values()]
    candidates += [m for m in list(sys.modules) if m not in candidates]
    for module_name in candidates:
        module = sys.modules.get(module_name)
        if module is None or module_name == "__main__":
            continue
        for attr, value in list(vars(module).items()):
            if value is task_queue or (
                hasattr(value, "sender") and getattr(value, "task_queue", None) is task_queue
            ):
                return _checked_module_spec(module_name, attr)
    raise HarnessError(
        "task_queue is not a module-level variable of any imported module, so the Celery worker "
        "cannot import it; define it at module level (e.g. app/tasks.py: task_queue = TaskQueue())"
    )


def _checked_module_spec(module_name: str, attr: str) -> WorkloadSpec:
    if module_name.startswith("_q2c_parity_"):
        raise HarnessError(
            "this task_queue comes from a workload file loaded by the harness; pass the file path "
            "instead of the object"
        )
    try:
        found = importlib.util.find_spec(module_name)
    except (ImportError, ValueError):
        found = None
    if found is None:
        raise HarnessError(
            f"module {module_name!r} (which defines the task_queue) cannot be imported by name, so "
            "the Celery worker cannot load it; make it importable (a package on sys.path)"
        )
    return WorkloadSpec("module", module_name, attr=attr, fresh=False)
