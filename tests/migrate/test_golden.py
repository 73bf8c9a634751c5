"""Golden before/after cases, one per rule; each is also run a second time on its output,
which must come back unchanged (byte for byte)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from queue2celery.migrate import (
    ReplaceBackgroundTaskCommand,
    ReplaceManagerAddTaskCommand,
    ReplaceQueuePutCommand,
    rewrite_source,
)

from .conftest import GOLDEN_CONFIG, GOLDEN_MODULE

GOLDEN = Path(__file__).parent / "golden"
CODEMODS = {
    "queue_put": ReplaceQueuePutCommand,
    "background_task": ReplaceBackgroundTaskCommand,
    "manager_add_task": ReplaceManagerAddTaskCommand,
}
CASES = sorted(GOLDEN.glob("*/*.before.py.txt"))


def _run(source: bytes, codemod: str) -> bytes:
    out, _ = rewrite_source(
        source, GOLDEN_CONFIG, module=GOLDEN_MODULE, codemods=(CODEMODS[codemod],)
    )
    return out


@pytest.mark.parametrize(
    "before", CASES, ids=[f"{p.parent.name}/{p.name.split('.')[0]}" for p in CASES]
)
def test_golden_case(before: Path) -> None:
    codemod = before.parent.name
    after = before.with_name(before.name.replace(".before.", ".after."))
    source = before.read_bytes()
    if not after.exists():  # a case without an expected output must fail to parse
        with pytest.raises(cst.ParserSyntaxError):
            _run(source, codemod)
        return
    expected = after.read_bytes()
    assert _run(source, codemod) == expected
    assert _run(expected, codemod) == expected, "a second run must change nothing"


def test_every_codemod_has_golden_cases() -> None:
    assert {p.parent.name for p in CASES} == set(CODEMODS)
