"""Issue 8.7: every benchmark in bench/ runs with ``--quick`` and ends with its JSON line.

The benchmarks are discovered, not listed: a new ``bench/*.py`` is covered the moment it
lands (files starting with ``_`` are helpers, not benchmarks). Each runs as CI runs it, a
subprocess with a bounded time; its last output line must be a JSON object with ``name``
and a numeric ``ratio``, and BENCHMARKS.md must mention it by file name.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _reliability import report

pytestmark = pytest.mark.reliability

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
# Per benchmark; a quick run takes seconds, the bound is for a loaded 2-core machine.
QUICK_TIMEOUT = 180


def _benchmarks() -> list[Path]:
    return sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))


def test_there_are_benchmarks_to_check() -> None:
    assert _benchmarks(), f"no benchmark found in {BENCH}"


@pytest.mark.redis
@pytest.mark.worker
@pytest.mark.parametrize("script", _benchmarks(), ids=lambda p: p.name)
def test_benchmark_quick_run_ends_with_a_json_line_with_name_and_ratio(
    script: Path, real_redis: str
) -> None:
    started = time.monotonic()
    env = {**os.environ, "REDIS_URL": real_redis, "PYTHONPATH": str(REPO)}
    try:
        proc = subprocess.run(
            [sys.executable, str(script), "--quick"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=QUICK_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{script.name} --quick took more than {QUICK_TIMEOUT}s: {exc.stdout!r}")
    seconds = time.monotonic() - started
    assert proc.returncode == 0, f"{script.name} --quick exited {proc.returncode}:\n{proc.stderr}"
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert lines, f"{script.name} --quick printed nothing"
    try:
        last = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        pytest.fail(f"{script.name}: last line is not JSON ({exc}): {lines[-1]!r}")
    assert isinstance(last, dict), last
    assert isinstance(last.get("name"), str) and last["name"], last
    ratio = last.get("ratio")
    assert isinstance(ratio, (int, float)) and not isinstance(ratio, bool), last
    assert math.isfinite(ratio) and ratio > 0, last
    # The raw figures come before the JSON line, not only the summary.
    assert len(lines) >= 2, f"{script.name} prints only its JSON line"
    report(
        {
            "test": "benchmark_quick",
            "file": script.name,
            "name": last["name"],
            "ratio": ratio,
            "seconds": round(seconds, 1),
        }
    )


def test_benchmarks_md_mentions_every_benchmark_by_file_name() -> None:
    text = (REPO / "BENCHMARKS.md").read_text(encoding="utf-8")
    missing = [p.name for p in _benchmarks() if p.name not in text]
    assert not missing, f"BENCHMARKS.md does not mention {missing}"
