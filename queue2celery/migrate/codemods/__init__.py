"""The libcst codemods, one per kind of legacy call. They also run under
``python -m libcst.tool codemod`` (pass ``--no-format``: the tool runs black otherwise)."""

from __future__ import annotations

from .background_task import ReplaceBackgroundTaskCommand
from .manager_add_task import ReplaceManagerAddTaskCommand
from .queue_put import ReplaceQueuePutCommand

CODEMODS = (ReplaceQueuePutCommand, ReplaceManagerAddTaskCommand, ReplaceBackgroundTaskCommand)

__all__ = [
    "CODEMODS",
    "ReplaceBackgroundTaskCommand",
    "ReplaceManagerAddTaskCommand",
    "ReplaceQueuePutCommand",
]
