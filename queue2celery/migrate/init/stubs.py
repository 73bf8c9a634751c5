"""``check``'s view of init's work: a ``run_<queue>`` stub not filled in yet is a finding,
so CI stays red until someone wrote what the consumer loop does."""

from __future__ import annotations

from pathlib import Path

from .._files import Unreadable
from ..results import CHECK_CODES, Finding
from ..scan import collect_files
from ._render import STUB_MARK

__all__ = ["STUB_CODE", "stub_findings"]

STUB_CODE = CHECK_CODES["init_stub"]
_MARK = STUB_MARK.encode()


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
        if _MARK not in data:
            continue
        for number, line in enumerate(data.splitlines(), 1):
            if _MARK in line and line.lstrip().startswith(b"def "):
                name = line.split(b"(")[0].split()[-1].decode("utf-8", "replace")
                findings.append(
                    Finding(
                        source.rel,
                        number,
                        1,
                        STUB_CODE,
                        f"{name} is a stub queue2celery init wrote: write what the consumer "
                        f"loop does with one item, then delete the '{STUB_MARK}' mark",
                    )
                )
    return findings
