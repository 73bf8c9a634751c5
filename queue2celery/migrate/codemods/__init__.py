"""The libcst codemods, one per kind of legacy call. They also run under libcst's tool::

    python -m libcst.tool codemod -x --no-format --include-generated \
        queue2celery.migrate.codemods.queue_put.ReplaceQueuePutCommand src/

``--no-format``: the tool runs black over every file it touches otherwise; ``--include-generated``:
it silently skips files containing ``@generated`` otherwise. The mapping comes from the nearest
pyproject.toml (or ``--config-file``); the module names from the tool's repo root.
``queue2celery rewrite`` runs all four without either surprise."""

from __future__ import annotations

from .background_task import ReplaceBackgroundTaskCommand
from .manager_add_task import ReplaceManagerAddTaskCommand
from .periodic_start import GuardPeriodicStartCommand
from .queue_put import ReplaceQueuePutCommand
from .spawn import ReplaceSpawnCommand

CODEMODS = (
    ReplaceQueuePutCommand,
    ReplaceManagerAddTaskCommand,
    ReplaceBackgroundTaskCommand,
    ReplaceSpawnCommand,
)

# Not in CODEMODS: it is given the start sites a periodic scan found (see rewrite).
__all__ = [
    "CODEMODS",
    "GuardPeriodicStartCommand",
    "ReplaceBackgroundTaskCommand",
    "ReplaceManagerAddTaskCommand",
    "ReplaceQueuePutCommand",
    "ReplaceSpawnCommand",
]
