"""``check``'s view of init's work: a ``run_<queue>`` stub not filled in yet is a finding,
so CI stays red until someone wrote what the consumer loop does. ``check`` itself reads the
marks from the bytes scan already read (:mod:`.._stubmark`); this walks a tree on its own."""

from __future__ import annotations

from pathlib import Path

from .._files import Unreadable
from .._stubmark import STUB_MARK, stub_marks, stub_message
from ..results import CHECK_CODES, Finding
from ..scan import collect_files

__all__ = ["STUB_CODE", "STUB_MARK", "stub_findings"]

STUB_CODE = CHECK_CODES["init_stub"]


def stub_findings(path: Path) -> list[Finding]:
    """One finding per stub mark left in a Python file under ``path``."""
    findings = []
    for source in collect_files(path):
        if isinstance(source.path, Unreadable) or not source.path.is_file():
            continue  # a FIFO or device named *.py is never opened
        try:
            with open(source.path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue  # scan reports the files it cannot read
        for number, name in stub_marks(data):
            findings.append(Finding(source.rel, number, 1, STUB_CODE, stub_message(name)))
    return findings
