"""The README's main command: the whole migration on the example, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from queue2celery import demo as demo_module
from queue2celery.demo import StepChanges, run_demo

WIDTH = 100


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL")}
    env["COLUMNS"] = str(WIDTH)
    return subprocess.run(
        [sys.executable, "-m", "queue2celery.cli", "demo", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


def _assert_walks_the_whole_migration(out: str) -> None:
    headings = [
        "[1/6] scan",
        "[2/6] step 2: adopt",
        "[3/6] parity: the same workloads on both backends (8 difference(s))",
        "[4/6] fix what parity found",
        "[4/6] parity after the fixes (the backends agree)",
        "[5/6] rewrite --diff",
    ]
    positions = [out.index(h) for h in headings]
    # The guide's order: rewrite only after parity is clean.
    assert positions == sorted(positions)
    # Step 2 is the one line: the app's own queues, adopted.
    assert "+task_queue = CompatQueue(" in out and "+    adopt(" in out
    assert "run=self.execute, types=[Task, ReportRequest]" in out
    # The example's true hazards show up: the tuple, the int keys, the shared state.
    assert "tuple-literal" in out and "dict-non-str-key" in out
    assert 'payload["payload"]["coords"] arrives as a list on Celery' in out
    assert 'observe()["task_status"]["v1"]' in out and 'observe()["task_status"]["v2"]' in out
    assert 'observe()["task_status"]["t1"]' in out  # the manager's dict on its instance
    # The fix step shows what changed.
    assert "+from fastapi_app.tasks.status_store import set_status" in out
    assert "+    process_task.delay(" in out
    # The manager stays on its adopted queue: check says so instead of "clean".
    assert "[6/6] check: 1 legacy site(s) left" in out and "Q2C004" in out
    assert "Next steps" in out
    too_long = [line for line in out.splitlines() if len(line) > WIDTH]
    assert not too_long, too_long


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


@pytest.mark.worker
def test_the_demo_stops_before_rewriting_when_parity_is_still_not_clean(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_apply = demo_module._apply

    def without_the_fixes(step: str, workdir: Path) -> StepChanges:
        if step == "4_fix":
            return StepChanges("fix", ())  # the user fixed nothing
        return real_apply(step, workdir)

    monkeypatch.setattr(demo_module, "_apply", without_the_fixes)
    monkeypatch.delenv("REDIS_URL", raising=False)
    steps: list[str] = []
    result = run_demo(on_step=lambda step, _result: steps.append(step), timeout=30)
    assert steps == ["scan", "adopt", "parity", "fix", "parity_after_fix"]
    assert result.rewrite is None and result.check is None
    assert result.stopped is not None and "rewrites only when parity is clean" in result.stopped
    assert "REDIS_URL" not in os.environ


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.worker
def test_a_wheel_installed_in_a_fresh_venv_runs_the_demo(tmp_path: Path) -> None:
    """Not an editable install: the example must ship inside the package (about a minute:
    pip builds the wheel and installs its dependencies from the local cache or index)."""
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "-q", "-w", str(wheels)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("queue2celery-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    bindir = venv / ("Scripts" if os.name == "nt" else "bin")
    installed = subprocess.run(
        [str(bindir / "python"), "-m", "pip", "install", "-q", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTHONPATH")}
    env["COLUMNS"] = str(WIDTH)
    where = subprocess.run(
        [str(bindir / "python"), "-c", "import queue2celery; print(queue2celery.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert str(venv) in where.stdout, where.stdout + where.stderr
    done = subprocess.run(
        [str(bindir / "queue2celery"), "demo"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "[4/6] parity after the fixes (the backends agree)" in done.stdout
    assert "[6/6] check" in done.stdout
