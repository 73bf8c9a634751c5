"""The parity report: the result object, its JSON form, a text table and JUnit XML."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ._calls import BackendRun
from ._compare import Mismatch

__all__ = ["ParityReport", "Style", "render_text"]

# style(text, role) -> text; role is "ok", "bad", "head" or "dim". The CLI colors with it.
Style = Callable[[str, str], str]


def _plain(text: str, role: str) -> str:
    return text


@dataclass
class ParityReport:
    """What ``parity.run`` returns: ``ok`` when the backends agree on every call."""

    workload: str
    legacy: BackendRun
    celery: BackendRun
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def calls(self) -> int:
        return max(len(self.legacy.calls), len(self.celery.calls))

    def to_dict(self) -> dict[str, Any]:
        """The ``parity --json`` object (docs/json.md)."""
        return {
            "ok": self.ok,
            "calls": self.calls,
            "backend": {
                "workload": self.workload,
                "legacy": self.legacy.to_dict(),
                "celery": self.celery.to_dict(),
            },
            "mismatches": [m.to_dict() for m in self.mismatches],
        }

    def explain(self) -> str:
        """Plain text for ``assert report.ok, report.explain()``."""
        return render_text(self)

    def to_junit_xml(self) -> str:
        """One testcase per put call (and one for observe()), failures carrying the details."""
        by_call: dict[int | None, list[Mismatch]] = {}
        for mismatch in self.mismatches:
            by_call.setdefault(mismatch.call, []).append(mismatch)
        suite = ET.Element(
            "testsuite",
            name="queue2celery.parity",
            tests=str(self.calls + 1),
            failures=str(len(by_call)),
            errors="0",
            time=f"{self.legacy.seconds + self.celery.seconds:.3f}",
        )
        classname = f"parity.{self.workload}"
        for index in range(self.calls):
            task = _task_of(self, index)
            case = ET.SubElement(
                suite, "testcase", classname=classname, name=f"call {index}: {task}"
            )
            _add_failures(case, by_call.get(index, []))
        case = ET.SubElement(suite, "testcase", classname=classname, name="workload and observe()")
        _add_failures(case, by_call.get(None, []))
        ET.indent(suite)
        return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _task_of(report: ParityReport, index: int) -> str:
    for run in (report.legacy, report.celery):
        if index < len(run.calls) and run.calls[index].task:
            return str(run.calls[index].task)
    return "?"


def _add_failures(case: ET.Element, mismatches: list[Mismatch]) -> None:
    for mismatch in mismatches:
        failure = ET.SubElement(case, "failure", type=mismatch.kind, message=mismatch.detail)
        failure.text = f"legacy: {mismatch.legacy}\ncelery: {mismatch.celery}"


def _table(rows: list[list[str]], style: Style, width: int | None = None) -> list[str]:
    caps = [40] * len(rows[0])
    if width is not None:
        # The value columns give way first, down to 12 characters each.
        fixed = sum(min(max(len(r[i]) for r in rows), 40) + 2 for i in range(3))
        caps[3] = caps[4] = max(12, (width - fixed - 2) // 2)
    widths = [min(max(len(r[i]) for r in rows), caps[i]) for i in range(len(rows[0]))]
    lines = []
    for number, row in enumerate(rows):
        cells = [
            cell if len(cell) <= cap else cell[: cap - 3] + "..."
            for cell, cap in zip(row, caps, strict=True)
        ]
        line = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()
        lines.append(style(line, "head") if number == 0 else line)
    return lines


def render_text(report: ParityReport, style: Style | None = None, width: int | None = None) -> str:
    """The readable table; ``style`` colors it (the CLI passes click.style on a terminal).

    ``width`` fits every line to that many columns (details wrap, values are shortened in
    the table only: the detail line below each row says it in full).
    """
    paint = style or _plain
    head = (
        f"parity {report.workload}: {report.calls} put call(s); legacy "
        f"{report.legacy.seconds:.2f}s, celery {report.celery.seconds:.2f}s"
    )
    lines = [head]
    if report.ok:
        lines.append(paint(f"OK: both backends agree on all {report.calls} call(s)", "ok"))
        return "\n".join(lines)
    rows = [["call", "task", "kind", "legacy", "celery"]]
    for m in report.mismatches:
        call = "-" if m.call is None else str(m.call)
        rows.append([call, m.task or "-", m.kind, m.legacy, m.celery])
    table = _table(rows, paint, width)
    lines.append(table[0])
    for line, mismatch in zip(table[1:], report.mismatches, strict=True):
        lines.append(paint(line, "bad"))
        details = [f"      {mismatch.detail}"]
        if width is not None:
            details = textwrap.wrap(
                mismatch.detail,
                width=max(width, 40),
                initial_indent="      ",
                subsequent_indent="      ",
                break_on_hyphens=False,
            )
        lines.extend(paint(detail, "dim") for detail in details)
    failing = len({m.call for m in report.mismatches})
    lines.append(
        paint(
            f"MISMATCH: {len(report.mismatches)} difference(s) in {failing} place(s) "
            f"out of {report.calls} call(s)",
            "bad",
        )
    )
    return "\n".join(lines)
