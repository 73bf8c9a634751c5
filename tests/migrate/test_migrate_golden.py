"""Golden before/after cases, one per rule; each is also run a second time on its output,
which must come back unchanged (byte for byte)."""

from __future__ import annotations

from pathlib import Path

import libcst as cst
import pytest

from queue2celery.migrate import (
    MigrateConfig,
    ReplaceBackgroundTaskCommand,
    ReplaceManagerAddTaskCommand,
    ReplaceQueuePutCommand,
    ReplaceSpawnCommand,
    rewrite_source,
)
from queue2celery.migrate.codemods._base import TreeFacts

GOLDEN_MODULE = "app.api.routes"  # every case is this module of the same project

GOLDEN = Path(__file__).parent / "golden"
CODEMODS = {
    "queue_put": ReplaceQueuePutCommand,
    "background_task": ReplaceBackgroundTaskCommand,
    "manager_add_task": ReplaceManagerAddTaskCommand,
    "spawn": ReplaceSpawnCommand,
}
# What a scan of the golden project knows: its priority_queue is fed (priority, item).
FACTS = TreeFacts(priority_queues=frozenset({"app.tasks.queue.priority_queue"}))
CASES = sorted(GOLDEN.glob("*/*.before.py.txt"))


def _run(source: bytes, codemod: str, config: MigrateConfig) -> bytes:
    out, _ = rewrite_source(
        source, config, module=GOLDEN_MODULE, codemods=(CODEMODS[codemod],), facts=FACTS
    )
    return out


@pytest.mark.parametrize(
    "before", CASES, ids=[f"{p.parent.name}/{p.name.split('.')[0]}" for p in CASES]
)
def test_golden_case(before: Path, golden_config: MigrateConfig) -> None:
    codemod = before.parent.name
    after = before.with_name(before.name.replace(".before.", ".after."))
    source = before.read_bytes()
    if not after.exists():  # a case without an expected output must fail to parse
        with pytest.raises(cst.ParserSyntaxError):
            _run(source, codemod, golden_config)
        return
    expected = after.read_bytes()
    assert _run(source, codemod, golden_config) == expected
    assert _run(expected, codemod, golden_config) == expected, "a second run must change nothing"


def test_every_codemod_has_golden_cases() -> None:
    assert {p.parent.name for p in CASES} == set(CODEMODS)
