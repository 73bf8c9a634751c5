"""The result of one check: a frozen line of the doctor's report."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

__all__ = ["STATUSES", "Check", "Status"]

Status = Literal["PASS", "WARN", "FAIL", "SKIP"]
# SKIP: the check could not run (an earlier one failed, or the server forbids it); it never
# fails the run on its own, the check that caused it does.
STATUSES: tuple[Status, ...] = ("PASS", "WARN", "FAIL", "SKIP")


@dataclass(frozen=True)
class Check:
    """One diagnosis: what was checked, how it went, and the fix in one line."""

    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)
