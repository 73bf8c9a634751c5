"""The README's main command: the whole migration on the example, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    return subprocess.run(
        [sys.executable, "-m", "queue2celery.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _assert_walks_the_whole_migration(out: str) -> None:
    for heading in ("[1/5] scan", "[2/5] parity", "[3/5] rewrite --diff", "[4/5] rewrite"):
        assert heading in out
    assert "[5/5] check: clean" in out
    # The example's true hazards show up: the tuple, the int keys, the status dict.
    assert "tuple-literal" in out and "dict-non-str-key" in out
    assert 'payload["coords"] arrives as a list on Celery' in out
    assert "observed_state" in out
    assert "+    handle = process_task.delay(" in out
    assert "Next steps" in out


@pytest.mark.worker
def test_demo_runs_on_the_embedded_redis_with_no_redis_url_and_exits_0() -> None:
    done = _demo()
    assert done.returncode == 0, done.stderr
    assert "on the embedded Redis" in done.stdout
    _assert_walks_the_whole_migration(done.stdout)


@pytest.mark.redis
@pytest.mark.worker
def test_demo_runs_against_a_real_redis_without_showing_its_password(real_redis: str) -> None:
    done = _demo("--redis-url", real_redis)
    assert done.returncode == 0, done.stderr
    _assert_walks_the_whole_migration(done.stdout)


def test_demo_with_an_unreachable_redis_fails_clearly_and_hides_the_password() -> None:
    done = _demo("--redis-url", "redis://:s3cret@127.0.0.1:9/0")
    assert done.returncode == 2
    assert "s3cret" not in done.stdout + done.stderr
    assert "redis://:***@127.0.0.1:9/0" in done.stdout + done.stderr
