"""queue2celery beat: real beat and worker processes, second-scale intervals, embedded server
and real Redis. One scheduler ticks at a time; a standby takes over when the leader dies."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _periodic_app import JobsStack, jobs_stack

from queue2celery.celery_tasks.beat import BeatOptions, BeatProcess, start_beat

pytestmark = [pytest.mark.worker]

# Short timings so a takeover fits a test: the lock lapses 3 s after the leader's last renewal.
FAST = BeatOptions(lock_timeout=3, max_interval=1)


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def jobs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[JobsStack]:
    with jobs_stack(request, tmp_path, backend=request.param) as stack:
        yield stack


@pytest.fixture
def beat_factory() -> Iterator[Callable[..., BeatProcess]]:
    started: list[BeatProcess] = []

    def _start(stack: JobsStack, env: dict[str, str] | None = None, **kw: Any) -> BeatProcess:
        beat = start_beat(
            stack.app_spec,
            cwd=stack.directory,
            env={"REDIS_URL": stack.url, **(env or {})},
            options=kw.pop("options", FAST),
            **kw,
        )
        started.append(beat)
        return beat

    yield _start
    for beat in started:
        beat.stop()


def _starts(stack: JobsStack) -> list[float]:
    return sorted(run["start"] for run in stack.runs() if run["job"] == "cleanup")


_LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}): \w+/\w+\] (.*)$", re.M)


def _sends(*beats: BeatProcess) -> list[float]:
    """When the beats sent a tick of ``cleanup``, from their own logs: a send refused
    because another beat had claimed the tick is not one. Unlike the runs' start times,
    these do not bunch up when a busy worker takes two ticks late, one after the other."""
    sent: list[float] = []
    for beat in beats:
        own: list[float] = []
        for stamp, message in _LOG_LINE.findall(beat.log()):
            if message.startswith("Scheduler: Sending due task cleanup"):
                own.append(datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp())
            elif "already sent by another beat" in message and own:
                own.pop()
        sent.extend(own)
    return sorted(sent)


def _assert_no_double_tick(starts: list[float]) -> None:
    # Ticks are 1 s apart; a tick sent twice would start twice within a few milliseconds.
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap > 0.5 for gap in gaps), f"two runs of one tick: gaps {gaps}"


def test_a_slow_task_is_not_overlapped(
    jobs: JobsStack, beat_factory: Callable[..., BeatProcess], wait_until: Callable[..., Any]
) -> None:
    # Every tick 1 s, each run 1.5 s, 4 worker threads free: only the lock stops overlap.
    beat = beat_factory(jobs, env={"JOB_SECONDS": "1.5"})
    beat.wait_ready(30)
    assert wait_until(lambda: len(jobs.runs()) >= 3, timeout=30)
    runs = sorted((r["start"], r["end"]) for r in jobs.runs() if r["job"] == "cleanup")
    for (_, end), (start, _) in zip(runs, runs[1:], strict=False):
        assert start >= end, f"runs overlapped: {runs}"
    assert jobs.worker is not None
    assert "skipped" in jobs.worker.log()


def test_two_beats_run_no_tick_twice_and_the_standby_takes_over(
    jobs: JobsStack, beat_factory: Callable[..., BeatProcess], wait_until: Callable[..., Any]
) -> None:
    leader = beat_factory(jobs)
    leader.wait_ready(30)
    standby = beat_factory(jobs)
    assert wait_until(lambda: "beat: Starting" in standby.log(), timeout=30)
    # Ticks arrive, once a second, with the schedule's arguments.
    assert wait_until(lambda: len(_starts(jobs)) >= 3, timeout=20), leader.log()[-2000:]
    assert all(run["args"] == [7, 0.0] for run in jobs.runs())
    _assert_no_double_tick(_starts(jobs))
    assert standby.alive() and not standby.holds_lock()
    assert "Sending due task" not in standby.log()

    leader.kill()
    killed = time.monotonic()
    assert wait_until(standby.holds_lock, timeout=2 * FAST.lock_timeout + 2), standby.log()
    takeover = time.monotonic() - killed
    # Within two lock intervals, as promised (RELIABILITY.md records the figures).
    assert takeover <= 2 * (FAST.lock_timeout or 0), takeover
    before = len(_starts(jobs))
    assert wait_until(lambda: len(_starts(jobs)) >= before + 2, timeout=20)
    _assert_no_double_tick(_starts(jobs))
    print(f"takeover after SIGKILL: {takeover:.1f}s (lock {FAST.lock_timeout}s)")


@pytest.mark.reliability
def test_a_frozen_leader_that_wakes_after_losing_its_lock_exits_instead_of_ticking(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    beat_factory: Callable[..., BeatProcess],
    wait_until: Callable[..., Any],
) -> None:
    # A laptop asleep, a VM paused (redbeat #230, #127): the lock lapses, a standby takes
    # it; the old leader must not tick next to it when it wakes.
    import os
    import signal

    with jobs_stack(request, tmp_path, backend="embedded") as stack:
        leader = beat_factory(stack)
        leader.wait_ready(30)
        standby = beat_factory(stack)
        assert wait_until(lambda: "beat: Starting" in standby.log(), timeout=30)
        os.kill(leader.pid, signal.SIGSTOP)
        try:
            assert wait_until(standby.holds_lock, timeout=2 * FAST.lock_timeout + 2)
        finally:
            os.kill(leader.pid, signal.SIGCONT)
        assert wait_until(lambda: not leader.alive(), timeout=10), leader.log()[-2000:]
        assert leader.popen.returncode != 0
        assert "no longer owned" in leader.log()
        time.sleep(2)
        assert _sends(standby), standby.log()[-2000:]
        _assert_no_double_tick(_sends(leader, standby))
