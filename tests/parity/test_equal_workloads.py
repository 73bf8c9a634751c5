"""Workloads that must come out equal on both backends, through the real harness."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from queue2celery import parity

pytestmark = pytest.mark.worker


def test_retries_ending_in_success_and_the_same_exception_agree(
    parity_redis: str | None, workload_file: Callable[[str], str]
) -> None:
    report = parity.run(workload_file("equal_retries_exceptions"), redis_url=parity_redis)

    assert report.ok, report.explain()
    assert report.calls == 3
    for run in (report.legacy, report.celery):
        flaky, broken, flaky_again = run.calls
        assert (flaky.status, len(flaky.attempts)) == ("SUCCESS", 3)
        assert (flaky_again.status, len(flaky_again.attempts)) == ("SUCCESS", 3)
        assert (broken.status, len(broken.attempts)) == ("FAILURE", 2)
        assert broken.error == {"type": "ValueError", "message": "cannot process b"}
    # retry_delay=30 on both handlers, yet the whole run took seconds: retries are instant.
    assert report.legacy.seconds < 10 and report.celery.seconds < 10


def test_datetimes_uuids_chinese_empty_and_large_payloads_agree(
    parity_redis: str | None, workload_file: Callable[[str], str]
) -> None:
    report = parity.run(workload_file("equal_payloads"), redis_url=parity_redis)

    assert report.ok, report.explain()
    assert report.calls == 7
    first = report.celery.calls[0].attempts[0]["arg"]
    types = {key["v"]: value["t"] for key, value in first["v"]}
    assert types == {"at": "datetime", "day": "date", "id": "UUID", "price": "Decimal"}
    assert report.celery.calls[1].result is not None
    assert "视频处理完成" in str(report.celery.calls[1].result)


def test_the_applications_redis_variables_are_never_used(
    monkeypatch: pytest.MonkeyPatch, workload_file: Callable[[str], str]
) -> None:
    # An application shell often has these set; nothing answers on port 1.
    dead = "redis://127.0.0.1:1/0"
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.setenv(name, dead)

    report = parity.run(workload_file("equal_retries_exceptions"), timeout=20)

    assert report.ok, report.explain()
    assert report.celery.info["redis"] != dead
    assert os.environ["CELERY_BROKER_URL"] == dead, "the caller's environment is restored"
