"""The rollout flag: deterministic, sticky, monotonic, accurate, and live."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from queue2celery.cli import main as cli_main
from queue2celery.compat import BUCKETS, CompatQueue, Rollout, bucket_for
from queue2celery.errors import ConfigError

# (task name, key, bucket): any change to the hash moves users between backends after an
# upgrade, so these values are part of the contract.
GOLDEN_VECTORS = [
    ("process_video_upload", "user-1", 3023),
    ("process_video_upload", "user-2", 4911),
    ("process_task", "00000000-0000-4000-8000-000000000000", 7742),
    ("send_email", 42, 5642),
    ("send_email", "42", 5642),
    ("生成报告", "账户-7", 5552),
    ("", "", 5896),
    ("process_task", "acct:9999", 3226),
]


@pytest.mark.parametrize(("task", "key", "bucket"), GOLDEN_VECTORS)
def test_golden_vectors_keep_their_buckets(task: str, key: object, bucket: int) -> None:
    assert bucket_for(task, key) == bucket


@pytest.mark.parametrize(
    ("spec", "default", "per_task"),
    [
        pytest.param("legacy", 0.0, {}, id="kill-switch"),
        pytest.param("celery", 100.0, {}, id="all-celery"),
        pytest.param("CELERY", 100.0, {}, id="case-insensitive"),
        pytest.param("25", 25.0, {}, id="percentage"),
        pytest.param("12.5%", 12.5, {}, id="percent-sign-and-decimals"),
        pytest.param(
            "process_video_upload=100,default=10",
            10.0,
            {"process_video_upload": 100.0},
            id="per-task",
        ),
        pytest.param("a=celery, b=legacy", 0.0, {"a": 100.0, "b": 0.0}, id="default-is-0"),
        pytest.param("a=30,*=5", 5.0, {"a": 30.0}, id="star-is-default"),
    ],
)
def test_specs_parse(spec: str, default: float, per_task: dict[str, float]) -> None:
    rollout = Rollout.parse(spec)
    assert rollout.default == default
    assert dict(rollout.per_task) == per_task


@pytest.mark.parametrize("spec", ["", "101", "-1", "half", "a=", "=5", "a=5,b"])
def test_bad_specs_are_config_errors_that_show_the_value(spec: str) -> None:
    with pytest.raises(ConfigError) as info:
        Rollout.parse(spec)
    assert "Q2C_ROLLOUT" in str(info.value)


def test_from_env_reads_q2c_rollout_and_defaults_to_celery() -> None:
    assert Rollout.from_env({}).default == 100.0
    assert Rollout.from_env({"Q2C_ROLLOUT": "legacy"}).default == 0.0
    assert Rollout.from_env({"Q2C_ROLLOUT": "x=50"}).per_task["x"] == 50.0


def test_buckets_are_the_same_in_processes_with_other_hash_seeds() -> None:
    keys = [f"user-{i}" for i in range(300)]
    here = [bucket_for("process_task", k) for k in keys]
    code = (
        "import json, sys; from queue2celery.compat import bucket_for; "
        "print(json.dumps([bucket_for('process_task', f'user-{i}') for i in range(300)]))"
    )
    for seed in ("1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout) == here


def test_raising_the_percentage_only_adds_keys() -> None:
    keys = [f"acct-{i}" for i in range(3000)]
    previous: set[str] = set()
    for pct in [0, 0.5, 1, 5, 10, 12.5, 25, 33, 50, 75, 99, 99.99, 100]:
        rollout = Rollout(default=pct)
        celery = {k for k in keys if rollout.backend_for("t", k) == "celery"}
        assert previous <= celery, f"keys flipped back to legacy when raising to {pct}%"
        previous = celery
    assert previous == set(keys)


@pytest.mark.parametrize("pct", [1, 10, 25, 50, 90])
def test_observed_share_is_within_two_points_over_ten_thousand_keys(pct: int) -> None:
    rollout = Rollout(default=pct)
    keys = [f"{i:08x}" for i in range(10_000)]
    share = sum(rollout.backend_for("process_task", k) == "celery" for k in keys) / 100
    assert abs(share - pct) <= 2.0


def test_bucket_range_and_extremes() -> None:
    assert all(0 <= bucket_for("t", i) < BUCKETS for i in range(1000))
    assert Rollout.all_celery().backend_for("t", "k") == "celery"
    assert Rollout.all_legacy().backend_for("t", "k") == "legacy"


def test_overrides_beat_configuration_and_star_applies_to_every_task() -> None:
    rollout = Rollout.parse("a=100,default=0")
    assert rollout.backend_for("a", "k") == "celery"
    assert rollout.backend_for("a", "k", {"*": 0}) == "legacy"
    assert rollout.backend_for("b", "k", {"*": 100}) == "celery"
    assert rollout.backend_for("a", "k", {"a": 0, "*": 100}) == "legacy"


def _compat(stack, **kwargs) -> CompatQueue:
    kwargs.setdefault("namespace", stack.name)
    return CompatQueue(stack.module.task_queue, stack.module.app, **kwargs)


@pytest.mark.worker
def test_key_callable_makes_the_decision_sticky_per_user(compat_stack) -> None:
    cq = _compat(compat_stack, rollout=Rollout.parse("50"), key=lambda item: item["user"])
    try:
        for user in range(50):
            item = compat_stack.item("echo", v=1, user=f"u{user}")
            sides = {cq.backend_for(item, f"id-{i}")[1] for i in range(10)}
            assert len(sides) == 1
            assert sides == {Rollout.parse("50").backend_for(compat_stack.h("echo"), f"u{user}")}
    finally:
        cq.close()


@pytest.mark.worker
def test_live_override_is_followed_within_five_seconds(compat_stack) -> None:
    namespace = compat_stack.name + "-live"
    cq = _compat(compat_stack, rollout=Rollout.all_celery(), namespace=namespace)
    task = compat_stack.h("echo")
    base = ["--redis-url", compat_stack.url, "--namespace", namespace]
    try:
        assert cq.put(compat_stack.item("echo", v="before")).backend == "celery"
        assert cli_main(["rollout", "set", task, "0", *base]) == 0
        started = time.monotonic()
        while cq.put(compat_stack.item("echo", v="x")).backend != "legacy":
            assert time.monotonic() - started < 5.0, "the override was not seen within 5 s"
            time.sleep(0.05)
        # The kill switch also wins over a per-task override set before it: first the
        # per-task 100 is seen, then the kill switch replaces it.
        assert cli_main(["rollout", "set", task, "100", *base]) == 0
        started = time.monotonic()
        while cq.put(compat_stack.item("echo", v="z")).backend != "celery":
            assert time.monotonic() - started < 5.0, "the override was not seen within 5 s"
            time.sleep(0.05)
        assert cli_main(["rollout", "set", "*", "legacy", *base]) == 0
        started = time.monotonic()
        while cq.put(compat_stack.item("echo", v="w")).backend != "legacy":
            assert time.monotonic() - started < 5.0, "the kill switch was not seen within 5 s"
            time.sleep(0.05)
        assert {cq.put(compat_stack.item("echo", v=i)).backend for i in range(20)} == {"legacy"}
        assert cli_main(["rollout", "clear", *base]) == 0
        started = time.monotonic()
        while cq.put(compat_stack.item("echo", v="y")).backend != "celery":
            assert time.monotonic() - started < 5.0, "clearing was not seen within 5 s"
            time.sleep(0.05)
        cq.join(timeout=60)
    finally:
        cq.close()


@pytest.mark.worker
def test_rollout_show_prints_configured_override_and_counts(compat_stack, capsys) -> None:
    namespace = compat_stack.name + "-show"
    task = compat_stack.h("echo")
    cq = _compat(compat_stack, rollout=Rollout.parse(f"{task}=0,default=100"), namespace=namespace)
    base = ["--redis-url", compat_stack.url, "--namespace", namespace]
    try:
        for i in range(7):
            cq.put(compat_stack.item("echo", v=i))
        for i in range(3):
            cq.put(compat_stack.item("types", v=i))
        cq.join(timeout=60)
    finally:
        cq.close()  # flushes the counters
    assert cli_main(["rollout", "set", task, "40", *base]) == 0
    capsys.readouterr()
    assert cli_main(["rollout", "show", "--json", *base]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {row["task"]: row for row in report["tasks"]}
    assert rows[task]["configured"] == "0"
    assert rows[task]["override"] == 40
    assert rows[task]["counts"] == {"celery": 0, "legacy": 7, "fallback": 0}
    assert rows[compat_stack.h("types")]["counts"]["celery"] == 3
    assert rows[compat_stack.h("types")]["configured"] == "100"
    assert cli_main(["rollout", "show", *base]) == 0
    text = capsys.readouterr().out
    assert task in text and "40%" in text and "CONFIGURED" in text
