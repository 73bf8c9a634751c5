"""Issue 14.1: SIGKILLs at random moments lose nothing (a CI-sized run of the measurement).

``measure_kill_random.py`` runs 100 kills over 5,000 tasks per pool with the default
settings; here 8 kills over 500 tasks per pool, with the lease timeout scaled down from
30 s to 3 s so that the killed workers' messages come back within the test. Stock kombu
loses about one message in five such kills (RELIABILITY.md); none may be lost here.
Duplicates are bounded by the processes killed: each held at most one message it had
started (prefetch 1), and only a started task can have run already.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from _kills import run_kills
from _reliability import report

pytestmark = [pytest.mark.reliability, pytest.mark.redis, pytest.mark.worker]

TASKS = 500
KILLS = 8


@pytest.mark.parametrize("pool", ["solo", "prefork"])
def test_random_sigkills_lose_no_task(real_redis: str, tmp_path: Path, pool: str) -> None:
    run = run_kills(
        real_redis,
        tmp_path,
        pool=pool,
        tasks=TASKS,
        kills=KILLS,
        rng=random.Random(f"{pool}-14"),
        task_seconds=0.01,
        max_alive=0.8,
        options={"lease_timeout": 3, "lease_interval": 0.5},
        drain_timeout=60.0,
    )
    report({"test": "kill_random", **run.as_dict()})
    assert run.kills_with_work_left >= KILLS // 2, "the kills must land while work is left"
    assert run.lost == 0, run.as_dict()
    assert run.duplicates <= run.processes_killed, run.as_dict()
