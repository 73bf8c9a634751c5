"""Parity on an adopted queue: the app's run in process against a real worker."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from queue2celery.cli import main

pytestmark = pytest.mark.worker


def test_an_adopted_workload_whose_backends_agree_exits_0(
    workload_file: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["parity", workload_file("adopted_equal"), "--json", "--timeout", "30"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, report
    assert report["ok"] is True and report["calls"] == 3


def test_drift_inside_a_dataclass_field_exits_1_with_the_fields_path(
    workload_file: Callable[[str], str],
    parity_redis: str | None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["parity", workload_file("adopted_drift"), "--json", "--timeout", "30"]
    if parity_redis:
        argv += ["--redis-url", parity_redis]
    code = main(argv)
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    drift = [m for m in report["mismatches"] if m["kind"] == "arg_drift"]
    assert drift, report
    assert drift[0]["detail"].startswith("payload.tags arrives as a list on Celery (a tuple")
    assert drift[0]["task"] == "adopted_app.TaskManager.execute"
    # The handler saw the list too: its result differs.
    assert any(m["kind"] == "result" for m in report["mismatches"])


JOBS_MODULE = """
import queue

jobs = queue.Queue()
SENT = {}


def send_email(to, subject):
    SENT[to] = subject
    return to


def resize(path, sizes):
    return {"path": path, "largest": max(sizes)}


HANDLERS = {"send_email": send_email, "resize": resize}

# Step 2 of the guide: the one line that adopts the app's queue.
from queue2celery.legacy_queue import adopt

task_queue = adopt(
    jobs, handlers=HANDLERS, route=lambda j: j["type"], call=lambda fn, j: fn(**j["payload"])
)
"""


def test_the_in_process_form_takes_an_adopted_queue_with_handlers_and_call(
    write_module: Callable[[str, str], object], parity_redis: str | None
) -> None:
    import sys

    from queue2celery import parity

    write_module("q2c_parity_adopted_jobs", JOBS_MODULE)
    sys.modules.pop("q2c_parity_adopted_jobs", None)
    import q2c_parity_adopted_jobs as jobs  # type: ignore[import-not-found]

    def workload(q: object) -> None:
        q.put({"type": "send_email", "payload": {"to": "a@example.com", "subject": "你好"}})  # type: ignore[attr-defined]
        q.put({"type": "resize", "payload": {"path": "/a.png", "sizes": {720: "hd", 1080: "fhd"}}})  # type: ignore[attr-defined]
        q.put(None)  # type: ignore[attr-defined]

    report = parity.run(
        task_queue=jobs.task_queue,
        workload=workload,
        observe=lambda: dict(jobs.SENT),
        redis_url=parity_redis,
        timeout=30,
    )
    kinds = sorted({m.kind for m in report.mismatches})
    # The int keys arrive as strings; the e-mail "sent" in the worker's memory is not seen here.
    assert kinds == ["arg_drift", "observed_state", "result"], report.explain()
    assert {m.task for m in report.mismatches if m.task} == {"resize"}


def test_an_asyncio_queue_workload_awaits_its_puts_and_finds_the_int_keys(
    workload_file: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["parity", workload_file("adopted_async"), "--json", "--timeout", "30"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1, report
    assert report["calls"] == 3
    kinds = [(m["call"], m["kind"]) for m in report["mismatches"]]
    assert (0, "arg_drift") in kinds and all(call == 0 for call, _ in kinds), kinds
