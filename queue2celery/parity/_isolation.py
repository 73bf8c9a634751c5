"""Fresh module state per backend, also for the modules a workload imports.

A workload usually imports its queue and state from the application (``from app.tasks import
task_queue, STATUS``). Re-importing only the workload file would hand both backends the same
``app.tasks`` module, so what legacy handlers wrote there would show up in the Celery run's
``observe()`` and hide the very difference parity exists to find. While one backend runs, the
application's own modules (anything not from the standard library, site-packages or
queue2celery) are taken out of ``sys.modules`` so they import anew; afterwards the caller's
originals are put back.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from types import ModuleType

__all__ = ["ModuleIsolation"]


def _library_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    roots.update(getattr(site, "getsitepackages", lambda: [])())
    return tuple(os.path.join(os.path.realpath(root), "") for root in roots if root)


def _application_modules(roots: tuple[str, ...]) -> dict[str, ModuleType]:
    found: dict[str, ModuleType] = {}
    for name, module in list(sys.modules.items()):
        if name == "__main__" or name.split(".")[0] == "queue2celery" or module is None:
            continue
        file = getattr(module, "__file__", None)
        if not file or os.path.realpath(file).startswith(roots):
            continue
        found[name] = module
    return found


class ModuleIsolation:
    """``enter()`` hides the application's modules; ``exit()`` (idempotent) restores them."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._roots = _library_roots() if enabled else ()
        self._saved: dict[str, ModuleType] | None = None

    def enter(self) -> None:
        if not self.enabled or self._saved is not None:
            return
        self._saved = _application_modules(self._roots)
        for name in self._saved:
            sys.modules.pop(name, None)

    def exit(self) -> None:
        if self._saved is None:
            return
        for name in _application_modules(self._roots):
            sys.modules.pop(name, None)
        sys.modules.update(self._saved)
        self._saved = None

    def __enter__(self) -> ModuleIsolation:
        self.enter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.exit()
