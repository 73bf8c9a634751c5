"""The judge: one workload through the legacy queue and through Celery, every difference reported.

``parity.run("path/to/workload.py")`` or ``parity.run(task_queue=q, workload=fn)`` returns a
:class:`ParityReport`; ``queue2celery parity WORKLOAD`` is its command line, and the pytest
plugin's ``parity`` fixture its CI form.
"""

from __future__ import annotations

from ._calls import BackendRun, CallRecord
from ._compare import MISMATCH_KINDS, Mismatch
from ._fingerprint import Difference, describe, differences, fingerprint, first_difference
from .harness import DEFAULT_TIMEOUT, run
from .report import ParityReport, Style, render_text

__all__ = [
    "DEFAULT_TIMEOUT",
    "MISMATCH_KINDS",
    "BackendRun",
    "CallRecord",
    "Difference",
    "Mismatch",
    "ParityReport",
    "Style",
    "describe",
    "differences",
    "fingerprint",
    "first_difference",
    "render_text",
    "run",
]
