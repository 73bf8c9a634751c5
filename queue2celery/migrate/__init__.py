"""queue2celery.migrate: the static side. ``scan`` finds legacy enqueue sites and the
handlers registered on legacy queues (with the module-level state they share) by meaning,
``rewrite`` turns the mapped sites into ``.delay()`` calls with libcst codemods, ``check``
keeps CI from sliding back (codes in :data:`CHECK_CODES`: Q2C001 queue put, Q2C002
BackgroundTasks.add_task, Q2C003 a likely site scan could not resolve (a candidate), Q2C004
a task manager's enqueue method, Q2C005-007 fire-and-forget tasks, threads and executor jobs,
Q2C900 a file that does not parse). ``# q2c: ignore[Q2C003]`` on a line, or ``ignore =
[...]`` in ``[tool.queue2celery]``, leaves a finding out.
Imports libcst and the standard library only; libcst only when a rewrite name (``rewrite``,
``rewrite_source``, ``CODEMODS``, the codemod commands) is first used, so ``scan`` and
``check`` never load it (PEP 562)."""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._periodic_model import PERIODIC_RISKS, PeriodicJob, Schedule, StartSite
from ._risks import RISKS, Risk
from .beat_schedule import GeneratedSchedule, generate_schedule
from .check import check
from .config import MigrateConfig, find_pyproject, load_config, proposed_tables
from .results import (
    CHECK_CODES,
    Candidate,
    CheckResult,
    FileChange,
    FileError,
    Finding,
    HandlerSite,
    RewriteResult,
    ScanResult,
    Site,
)
from .scan import collect_files, scan

if TYPE_CHECKING:
    from .codemods import (
        CODEMODS,
        ReplaceBackgroundTaskCommand,
        ReplaceManagerAddTaskCommand,
        ReplaceQueuePutCommand,
        ReplaceSpawnCommand,
    )
    from .rewrite import rewrite, rewrite_source

# Names whose modules import libcst: loaded on first use.
_LAZY = {
    "CODEMODS": ".codemods",
    "ReplaceBackgroundTaskCommand": ".codemods",
    "ReplaceManagerAddTaskCommand": ".codemods",
    "ReplaceQueuePutCommand": ".codemods",
    "ReplaceSpawnCommand": ".codemods",
    "rewrite": ".rewrite",
    "rewrite_source": ".rewrite",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    loaded = importlib.import_module(module, __name__)
    for other, where in _LAZY.items():
        if where == module:
            globals()[other] = getattr(loaded, other)
    return globals()[name]


class _Package(types.ModuleType):
    """Importing the submodule ``rewrite`` must not hide the function ``rewrite`` (the
    import system sets the package attribute to the submodule)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            self.__dict__.pop(name, None)  # __getattr__ loads the function on first use
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "CHECK_CODES",
    "CODEMODS",
    "Candidate",
    "CheckResult",
    "FileChange",
    "FileError",
    "Finding",
    "GeneratedSchedule",
    "HandlerSite",
    "MigrateConfig",
    "PERIODIC_RISKS",
    "PeriodicJob",
    "RISKS",
    "ReplaceBackgroundTaskCommand",
    "ReplaceManagerAddTaskCommand",
    "ReplaceQueuePutCommand",
    "ReplaceSpawnCommand",
    "RewriteResult",
    "Risk",
    "ScanResult",
    "Schedule",
    "Site",
    "StartSite",
    "check",
    "collect_files",
    "find_pyproject",
    "generate_schedule",
    "load_config",
    "proposed_tables",
    "rewrite",
    "rewrite_source",
    "scan",
]
