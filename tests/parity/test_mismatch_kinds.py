"""One workload per mismatch kind, each through the real harness (worker process, Redis)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from queue2celery import parity
from queue2celery.celery_tasks.status import sent_key

pytestmark = pytest.mark.worker

# workload -> the mismatches it must produce: (call, kind, words the detail must contain)
CASES = [
    pytest.param(
        "enqueue_error",
        [(1, "enqueue_error", 'payload["tags"]: set is not JSON serializable')],
        id="set-payload-is-an-enqueue-error",
    ),
    pytest.param(
        "arg_drift",
        [
            (
                0,
                "arg_drift",
                'payload["coords"] arrives as a list on Celery (a tuple on legacy): '
                "send a list, or accept one in the handler",
            ),
            (1, "arg_drift", "payload[\"scores\"] key 1 (int) arrives as '1' (str) on Celery"),
        ],
        id="tuple-and-int-keys-are-arg-drift",
    ),
    pytest.param(
        "result_drift",
        [(0, "result", 'result["size"] comes back as a list on Celery (a tuple on legacy)')],
        id="tuple-result-is-result-drift",
    ),
    pytest.param(
        "status_drift",
        [
            (0, "status", "ends FAILURE on Celery but SUCCESS on legacy (RuntimeError"),
            (1, "status", "(EncodeError: TypeError('Object of type set is not JSON serializable"),
        ],
        id="caller-only-config-and-a-set-result-are-status-mismatches",
    ),
    pytest.param(
        "exception_drift",
        [(0, "exception", "fails with KeyError: 'order-7' on Celery but with ValueError")],
        id="caller-only-lookup-is-an-exception-mismatch",
    ),
    pytest.param(
        "attempts_drift",
        [(0, "attempts", "ran 1 time(s) on Celery but 3 on legacy")],
        id="caller-set-failures-are-an-attempts-mismatch",
    ),
    pytest.param(
        "observed_state",
        # Every differing key is reported, not only the first.
        [
            (None, "observed_state", 'observe()["v1"] is missing on Celery'),
            (None, "observed_state", 'observe()["v2"] is missing on Celery'),
        ],
        id="status-dict-written-by-handler-is-observed-state",
    ),
    pytest.param(
        "observed_state_imported",
        [(None, "observed_state", 'observe()["v1"] is missing on Celery')],
        id="state-in-an-imported-app-module-is-fresh-per-backend",
    ),
    pytest.param(
        "driver_waits",
        [(None, "exception", "workload(q) did not return within 1.5s on Celery")],
        id="driver-waiting-on-an-in-process-event-is-cut-off",
    ),
    pytest.param(
        "missing",
        [(0, "missing", "did not finish within 1.5s on Celery")],
        id="handler-waiting-on-caller-event-is-missing",
    ),
]


@pytest.mark.parametrize(("name", "expected"), CASES)
def test_each_mismatch_kind_is_found_with_its_fix(
    name: str,
    expected: list[tuple[int | None, str, str]],
    parity_redis: str | None,
    workload_file: Callable[[str], str],
) -> None:
    timeout = 1.5 if name in ("missing", "driver_waits") else 20
    report = parity.run(workload_file(name), redis_url=parity_redis, timeout=timeout)

    assert not report.ok
    found = [(m.call, m.kind) for m in report.mismatches]
    assert found == [(call, kind) for call, kind, _ in expected], report.explain()
    for mismatch, (_, _, words) in zip(report.mismatches, expected, strict=True):
        assert words in mismatch.detail
        assert mismatch.detail.count(":") >= 1, "a detail says what differs, then what to do"
    assert report.to_dict()["mismatches"][0]["kind"] == expected[0][1]
    if parity_redis is not None:
        _assert_no_keys_left(parity_redis, report)


def _assert_no_keys_left(url: str, report: parity.ParityReport) -> None:
    client = redis.Redis.from_url(url)
    try:
        prefix = report.celery.info["key_prefix"]
        assert list(client.scan_iter(match=f"{prefix}*", count=1000)) == []
        ids = [c.task_id for c in report.celery.calls if c.task_id]
        assert ids and client.exists(*[sent_key(i) for i in ids]) == 0
    finally:
        client.close()
