"""Periodic parity: N ticks of a legacy loop's function in process against N ticks of its
Celery task on a real worker (embedded server and real Redis)."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

from queue2celery.errors import HarnessError
from queue2celery.parity.periodic import compare_periodic, overlaps, run_periodic

pytestmark = [pytest.mark.worker]

LEGACY = '''
"""运维定时任务 (旧版: 在 FastAPI 启动时开线程跑 while True 循环)."""

import asyncio
import time


def purge_stale_uploads(days=7, dry_run=False, seconds=0.0):
    # 清理过期上传文件; seconds 模拟耗时
    time.sleep(seconds)
    return {"purged": 3 if not dry_run else 0, "days": days}


async def refresh_rates(currencies=("USD", "CNY")):
    await asyncio.sleep(0.01)
    return {code: 1.0 for code in currencies}


def sync_inventory():
    raise ConnectionError("ERP 接口超时")


def _loop():
    while True:
        purge_stale_uploads()
        time.sleep(600)
'''

CELERY = '''
"""迁移后: 同一个函数由 Celery Beat 调度."""

import os

from ops_jobs import purge_stale_uploads, refresh_rates, sync_inventory
from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks.periodic import periodic_task

app = make_celery_app(
    "ops", broker_transport_options={"global_keyprefix": os.environ["OPS_PREFIX"]}
)
purge = periodic_task(app, name="ops.purge_stale_uploads", lock_ttl=30, shared=False)(
    purge_stale_uploads
)
refresh = periodic_task(app, name="ops.refresh_rates", shared=False)(refresh_rates)
inventory = periodic_task(app, name="ops.sync_inventory", shared=False)(sync_inventory)
'''


@pytest.fixture
def project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Path:
    (tmp_path / "ops_jobs.py").write_text(textwrap.dedent(LEGACY), encoding="utf-8")
    (tmp_path / "ops_celery.py").write_text(textwrap.dedent(CELERY), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("OPS_PREFIX", f"q2ctest-ops-{uuid.uuid4().hex[:8]}:")
    # Each test imports the project afresh (the worker imports it on its own anyway).
    for name in ("ops_jobs", "ops_celery"):
        request.addfinalizer(lambda n=name: __import__("sys").modules.pop(n, None))
    return tmp_path


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    return None if request.param == "embedded" else request.getfixturevalue("real_redis")


def _run(project: Path, legacy: str, task: str, **kwargs: Any) -> Any:
    return run_periodic(
        f"ops_jobs:{legacy}", task, app="ops_celery:app", cwd=str(project), **kwargs
    )


def test_the_same_calls_on_both_backends_and_no_overlap(
    project: Path, redis_url: str | None
) -> None:
    report = _run(
        project,
        "purge_stale_uploads",
        "ops.purge_stale_uploads",
        ticks=4,
        kwargs={"days": 30, "seconds": 0.2},
        redis_url=redis_url,
    )
    assert report.ok, report.to_dict()
    assert len(report.legacy_runs) == len(report.celery_runs) == 4
    assert [r["call"]["days"] for r in report.celery_runs] == [{"t": "int", "v": 30}] * 4
    assert report.to_dict()["overlaps"] == {"legacy": 0, "celery": 0}
    # Ticks are spaced by the longest legacy run plus a margin, as beat's would be.
    assert report.interval >= 0.2


def test_an_argument_that_changes_type_on_the_way_is_reported(project: Path) -> None:
    report = _run(project, "refresh_rates", "ops.refresh_rates", ticks=2, args=(("USD", "EUR"),))
    kinds = {(m.kind, m.tick) for m in report.mismatches}
    assert ("arg_drift", 0) in kinds and ("arg_drift", 1) in kinds
    drift = next(m for m in report.mismatches if m.kind == "arg_drift")
    assert "currencies" in drift.detail and "tuple" in drift.legacy + drift.detail
    assert drift.celery.startswith("[")


def test_ticks_faster_than_a_run_are_skipped_never_overlapped(project: Path) -> None:
    report = _run(
        project,
        "purge_stale_uploads",
        "ops.purge_stale_uploads",
        ticks=4,
        kwargs={"seconds": 0.8},
        interval=0.2,
    )
    kinds = [m.kind for m in report.mismatches]
    assert "skipped" in kinds, report.to_dict()
    assert "overlap" not in kinds
    assert report.to_dict()["overlaps"]["celery"] == 0
    skipped = next(m for m in report.mismatches if m.kind == "skipped")
    assert "schedule it less often" in skipped.detail


def test_the_same_exception_on_both_sides_is_parity(project: Path) -> None:
    report = _run(project, "sync_inventory", "ops.sync_inventory", ticks=2)
    assert report.ok, report.to_dict()
    assert all(r["error"]["type"] == "ConnectionError" for r in report.celery_runs)


def test_an_unknown_task_is_a_harness_error(project: Path) -> None:
    with pytest.raises(HarnessError, match="has no task 'ops.nope'"):
        _run(project, "purge_stale_uploads", "ops.nope", ticks=1)


def test_overlaps_are_found_and_skipped_runs_do_not_count() -> None:
    runs = [
        {"tick": 0, "start": 0.0, "end": 1.0, "state": "SUCCESS", "call": {}},
        {"tick": 1, "start": 0.5, "end": 0.6, "state": "IGNORED", "call": {}},
        {"tick": 2, "start": 0.9, "end": 2.0, "state": "SUCCESS", "call": {}},
        {"tick": 3, "start": 2.0, "end": 2.5, "state": "SUCCESS", "call": {}},
    ]
    assert overlaps(runs) == [(0, 2)]
    legacy = [dict(r, state="SUCCESS", start=float(i), end=i + 0.5) for i, r in enumerate(runs)]
    found = compare_periodic(legacy, runs, 4, interval=0.5)
    assert [m.kind for m in found] == ["skipped", "overlap"]


def test_the_command_prints_json_and_exits_by_verdict(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from queue2celery.cli import main

    monkeypatch.chdir(project)
    args = ["parity-periodic", "ops_jobs:refresh_rates", "ops.refresh_rates", "-A", "ops_celery"]
    assert main([*args, "--ticks", "2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is True and document["ticks"] == 2
    assert document["overlaps"] == {"legacy": 0, "celery": 0}
    # The default currencies tuple never crosses JSON; a list given as kwargs stays a list.
    assert main([*args, "--ticks", "1", "--kwargs", '{"currencies": ["JPY"]}']) == 0
    assert main([*args, "--kwargs", "[1]"]) == 2
    assert "--kwargs must be a JSON object" in capsys.readouterr().err
    assert main(["parity-periodic", "ops_jobs:nope", "ops.refresh_rates", "-A", "ops_celery"]) == 2
    assert "could not import the legacy function" in capsys.readouterr().err
