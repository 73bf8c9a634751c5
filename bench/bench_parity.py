"""Benchmark: a 1,000-put parity workload on both backends, end to end, on the embedded Redis.

Measures what ``queue2celery parity`` costs a CI job: the legacy run, the Celery worker's start,
the Celery run (every put sent, run by a real worker process, its result read back) and the
comparison. Budget (issue 6): at most 30 s on a 2-core machine.

    python bench/bench_parity.py [--quick] [--puts N]

Prints the raw figures, then ``ratio`` = total seconds / the 30 s budget (below 1 is within
budget), and a JSON object as its last line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from queue2celery import parity

BUDGET_SECONDS = 30.0

WORKLOAD = """
from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue(workers=2)
PUTS = {puts}


@task_queue.handler
def process_task(data):
    return {{"id": data["id"], "total": sum(data["values"]), "name": data["name"].upper()}}


def workload(q):
    for i in range(PUTS):
        q.put({{"id": i, "name": f"item-{{i}}", "values": [i, i + 1, i + 2]}})
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 puts instead of 1,000")
    parser.add_argument("--puts", type=int, default=None, help="number of puts (overrides)")
    args = parser.parse_args(argv)
    puts = args.puts or (200 if args.quick else 1000)

    with tempfile.TemporaryDirectory(prefix="q2c-bench-parity-") as tmp:
        path = Path(tmp) / "bench_workload.py"
        path.write_text(textwrap.dedent(WORKLOAD.format(puts=puts)), encoding="utf-8")
        started = time.perf_counter()
        report = parity.run(str(path), timeout=120)
        total = time.perf_counter() - started

    legacy = report.legacy.seconds
    celery = report.celery.seconds
    worker_start = float(report.celery.info.get("worker_start_seconds", 0.0))
    ratio = total / BUDGET_SECONDS
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"puts per backend:      {puts}")
    print(f"legacy run:            {legacy:.2f} s")
    print(f"celery worker start:   {worker_start:.2f} s (overlaps the legacy run)")
    print(f"celery run:            {celery:.2f} s ({puts / celery:.0f} tasks/s)" if celery else "")
    print(f"total, end to end:     {total:.2f} s")
    print(f"ratio = total / {BUDGET_SECONDS:.0f} s budget: {ratio:.2f} (<= 1 is within budget)")
    print(f"backends agree:        {report.ok} ({len(report.mismatches)} mismatches)")
    result = {
        "name": "parity",
        "ratio": round(ratio, 3),
        "ratio_is": "total_seconds / budget_seconds",
        "puts": puts,
        "legacy_seconds": round(legacy, 3),
        "celery_seconds": round(celery, 3),
        "worker_start_seconds": round(worker_start, 3),
        "total_seconds": round(total, 3),
        "budget_seconds": BUDGET_SECONDS,
        "ok": report.ok,
    }
    print(json.dumps(result))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
