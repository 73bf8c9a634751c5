"""Issue 14: parity exits 0 only when it compared every call on both backends."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from queue2celery.cli import main as cli_main

pytestmark = [pytest.mark.reliability, pytest.mark.worker]

HEAD = """
from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue(workers=1)


@task_queue.handler
def echo(item):
    return item
"""

WORKLOADS = {
    # The driver never calls put: before, "OK: both backends agree on all 0 call(s)".
    "no_put": HEAD
    + """
def workload(q):
    items = [i for i in range(3) if i > 5]  # 条件写错了：一个也没有
    for item in items:
        q.put(item)
""",
    # The driver dies the same way on both after one put: the rest was never compared.
    "stops_on_both": HEAD
    + """
def workload(q):
    q.put({"n": 1})
    raise KeyError("settings")  # 配置缺失
    q.put({"n": 2})
""",
}


@pytest.mark.parametrize("name", sorted(WORKLOADS))
def test_parity_refuses_to_call_a_run_clean_that_compared_nothing_or_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(WORKLOADS[name]), encoding="utf-8")
    code = cli_main(["parity", str(path), "--timeout", "20"])
    out = capsys.readouterr()
    assert code == 2, out.out + out.err
    assert "never compared" in out.err or "nothing was compared" in out.err, out.err
    assert "OK" not in out.out
