"""Comparison and rendering on recorded runs (no Redis, no worker: fast)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from queue2celery.parity import BackendRun, CallRecord, ParityReport, fingerprint, render_text
from queue2celery.parity._compare import compare_runs


def _call(
    index: int,
    arg: Any,
    *,
    status: str = "SUCCESS",
    result: Any = None,
    error: dict[str, str] | None = None,
    attempts: int = 1,
    finished: bool = True,
) -> CallRecord:
    call = CallRecord(index, "process_task", fingerprint(arg), task_id=f"id-{index}")
    call.handle = object()
    call.finished, call.status = finished, status
    call.result = fingerprint(result) if status == "SUCCESS" else None
    call.error = error
    call.attempts = [{"arg": fingerprint(arg), "returned": fingerprint(result)}] * attempts
    return call


def _report(legacy: list[CallRecord], celery: list[CallRecord], **info: Any) -> ParityReport:
    lrun, crun = BackendRun("legacy", legacy), BackendRun("celery", celery, info=dict(info))
    return ParityReport("wl.py", lrun, crun, compare_runs(lrun, crun, timeout=5))


def test_agreeing_runs_render_ok_and_an_empty_junit_suite() -> None:
    report = _report([_call(0, {"a": 1}, result=2)], [_call(0, {"a": 1}, result=2)])

    assert report.ok and report.to_dict()["mismatches"] == []
    assert render_text(report).endswith("OK: both backends agree on all 1 call(s)")
    suite = ET.fromstring(report.to_junit_xml().split("?>", 1)[1])
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")


def test_mismatch_table_uses_the_style_roles_and_prints_each_detail() -> None:
    report = _report([_call(0, (1, 2))], [_call(0, [1, 2])])

    text = render_text(report, lambda text, role: f"<{role}>{text}</{role}>")

    assert "<head>call  task" in text
    assert "<bad>0     process_task  arg_drift  (1, 2)  [1, 2]</bad>" in text
    assert "<dim>      payload arrives as a list on Celery" in text
    assert report.explain() == render_text(report)


def test_a_call_missing_on_one_side_and_a_dead_worker_are_explained() -> None:
    legacy = [_call(0, "x"), _call(1, "y")]
    celery = [_call(0, "x", status="PENDING", finished=False)]
    report = _report(legacy, celery, worker_exit_code=3)

    kinds = [(m.call, m.kind) for m in report.mismatches]
    assert kinds == [(0, "missing"), (1, "missing")]
    assert "the worker process exited (code 3)" in report.mismatches[0].detail
    assert "put #1 was never made on Celery" in report.mismatches[1].detail


def test_same_failure_agrees_but_a_different_message_is_an_exception_mismatch() -> None:
    boom = {"type": "ValueError", "message": "boom"}
    other = {"type": "ValueError", "message": "other"}
    same = _report(
        [_call(0, 1, status="FAILURE", error=boom, attempts=2)],
        [_call(0, 1, status="FAILURE", error=boom, attempts=2)],
    )
    different = _report(
        [_call(0, 1, status="FAILURE", error=boom)], [_call(0, 1, status="FAILURE", error=other)]
    )

    assert same.ok
    assert [m.kind for m in different.mismatches] == ["exception"]
    assert different.mismatches[0].legacy == "ValueError: boom"
