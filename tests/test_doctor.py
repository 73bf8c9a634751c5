"""``queue2celery doctor``: each classic failure is diagnosed, against real workers and servers."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from queue2celery.cli import main
from queue2celery.doctor import CHECK_NAMES, STATUSES, Check, any_failed, run_doctor

SECRET = "s3cret"

APP_MODULE = """
from queue2celery.celery_tasks import make_celery_app

# Own queue and control exchange: workers of other tests on the same Redis neither take
# these messages nor answer these pings.
app = make_celery_app(
    {name!r},
    broker_url={url!r},
    result_backend={url!r},
    task_default_queue={queue!r},
    control_exchange={queue!r},
    **{extra!r},
)


@app.task(name="resize_image", shared=False)
def resize_image(path):
    return path
"""

EXTRA_TASK = """

@app.task(name="process_video_upload", shared=False)
def process_video_upload(video_id):
    return video_id
"""


@pytest.fixture
def make_app(
    write_module: Callable[[str, str], Path], unique_name: str
) -> Iterator[Callable[..., str]]:
    """Write a Celery app module; returns its ``module:app`` spec. Apps are closed afterwards."""
    modules: list[str] = []

    def _make(url: str, *, suffix: str = "app", extra_task: bool = False, **extra: Any) -> str:
        module = f"{unique_name.replace('-', '_')}_{suffix}"
        source = APP_MODULE.format(name=module, url=url, queue=unique_name, extra=extra)
        write_module(module, source + (EXTRA_TASK if extra_task else ""))
        modules.append(module)
        return f"{module}:app"

    yield _make
    for module in modules:
        loaded = sys.modules.pop(module, None)
        if loaded is not None:
            # Pooled broker connections would keep an embedded server's threads alive.
            loaded.app.close()


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def _start(worker_factory: Callable[..., Any], spec: str, tmp_path: Path, **kwargs: Any) -> Any:
    return worker_factory(spec, cwd=tmp_path, ready_timeout=30, **kwargs)


@pytest.mark.worker
def test_no_worker_fails_and_says_how_to_start_one(
    broker_url: str, make_app: Callable[..., str]
) -> None:
    spec = make_app(broker_url)
    checks = _by_name(run_doctor(spec))
    assert checks["broker"].status == "PASS"
    assert checks["backend"].status == "PASS"
    assert checks["workers"].status == "FAIL"
    assert f"worker -A {spec}" in checks["workers"].fix
    assert checks["registered"].status == "SKIP"
    assert main(["doctor", "-A", spec, "--timeout", "0.5"]) == 1


@pytest.mark.worker
def test_a_worker_that_knows_every_task_passes(
    broker_url: str,
    make_app: Callable[..., str],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    spec = make_app(broker_url, extra_task=True)
    worker = _start(worker_factory, spec, tmp_path)
    checks = run_doctor(spec, platform="win32")
    by_name = _by_name(checks)
    assert [c.name for c in checks] == list(CHECK_NAMES)
    assert not any_failed(checks), checks
    assert by_name["workers"].status == "PASS"
    assert worker.nodename.split("@")[0] in by_name["workers"].detail
    assert by_name["registered"].status == "PASS"
    assert "process_video_upload" in by_name["registered"].detail
    assert by_name["queues"].status == "PASS"
    # The worker runs the solo pool, which works on Windows.
    assert by_name["windows_pool"].status == "PASS"
    assert "solo" in by_name["windows_pool"].detail
    if request.node.callspec.params["broker_url"] == "embedded":
        # fakeredis has no CONFIG command: said so, not failed.
        assert by_name["redis_persistence"].status == "SKIP"
    else:
        expected = _persistence_of(broker_url)
        assert by_name["redis_persistence"].status == expected


def _persistence_of(url: str) -> str:
    client = redis.Redis.from_url(url)
    try:
        save = client.config_get("save")["save"]
        appendonly = client.config_get("appendonly")["appendonly"]
    finally:
        client.close()
    return "WARN" if save == "" and appendonly == "no" else "PASS"


@pytest.mark.worker
def test_a_task_the_worker_lacks_fails_naming_it_and_what_the_worker_has(
    embedded_url: str,
    make_app: Callable[..., str],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
) -> None:
    # The worker imports a module that registers fewer tasks than the app given to doctor.
    worker_spec = make_app(embedded_url, suffix="worker")
    spec = make_app(embedded_url, extra_task=True)
    _start(worker_factory, worker_spec, tmp_path)
    registered = _by_name(run_doctor(spec))["registered"]
    assert registered.status == "FAIL"
    missing, have = registered.detail.split("the workers have:")
    assert "process_video_upload" in missing and "resize_image" not in missing
    assert "resize_image" in have
    assert "PENDING" in registered.detail


@pytest.mark.worker
def test_a_queue_without_consumer_and_its_waiting_messages_fail(
    embedded_url: str,
    make_app: Callable[..., str],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
    unique_name: str,
) -> None:
    videos = f"{unique_name}-videos"
    spec = make_app(embedded_url, task_routes={"resize_image": {"queue": videos}})
    module = sys.modules.get(spec.split(":")[0]) or __import__(spec.split(":")[0])
    for n in range(3):
        module.resize_image.delay(f"/tmp/{n}.png")
    # The worker consumes only the default queue, not the one resize_image is routed to.
    _start(worker_factory, spec, tmp_path, queues=[unique_name])
    checks = _by_name(run_doctor(spec))
    assert checks["queues"].status == "FAIL"
    assert repr(videos) in checks["queues"].detail
    assert f"-Q {videos}" in checks["queues"].fix
    assert checks["waiting"].status == "FAIL"
    assert f"3 in {videos!r}" in checks["waiting"].detail


@pytest.mark.worker
def test_a_prefork_worker_fails_the_windows_pool_check(
    embedded_url: str,
    make_app: Callable[..., str],
    worker_factory: Callable[..., Any],
    tmp_path: Path,
) -> None:
    spec = make_app(embedded_url)
    worker = _start(worker_factory, spec, tmp_path, pool="prefork", concurrency=1)
    pool = _by_name(run_doctor(spec, platform="win32"))["windows_pool"]
    assert pool.status == "FAIL"
    assert worker.nodename.split("@")[0] in pool.detail and "prefork" in pool.detail
    assert "--pool=solo" in pool.fix
    assert _by_name(run_doctor(spec, platform="linux"))["windows_pool"].status == "PASS"


def test_without_workers_the_windows_check_reads_the_configured_pool(
    make_app: Callable[..., str], free_port: int
) -> None:
    down = f"redis://127.0.0.1:{free_port}/0"
    default_pool = _by_name(run_doctor(make_app(down), platform="win32", timeout=0.5))
    assert default_pool["windows_pool"].status == "FAIL"
    assert "'prefork'" in default_pool["windows_pool"].detail
    solo_spec = make_app(down, suffix="solo", worker_pool="solo")
    solo = _by_name(run_doctor(solo_spec, platform="win32", timeout=0.5))
    assert solo["windows_pool"].status == "PASS"


def test_an_unreachable_redis_fails_without_showing_the_password(
    make_app: Callable[..., str], capsys: pytest.CaptureFixture[str], free_port: int
) -> None:
    url = f"redis://:{SECRET}@127.0.0.1:{free_port}/0"
    spec = make_app(url)
    checks = _by_name(run_doctor(spec))
    assert checks["broker"].status == "FAIL"
    assert "connection refused" in checks["broker"].detail
    assert "redis://:***@127.0.0.1" in checks["broker"].detail
    assert checks["backend"].status == "FAIL"
    assert checks["workers"].status == "SKIP"
    capsys.readouterr()
    assert main(["doctor", "-A", spec]) == 1
    assert main(["doctor", "-A", spec, "--json"]) == 1
    out, err = capsys.readouterr()
    assert "connection refused" in out
    assert SECRET not in out + err
    assert SECRET not in repr(list(checks.values()))


def test_an_unknown_host_is_told_apart(make_app: Callable[..., str]) -> None:
    spec = make_app(f"redis://:{SECRET}@no-such-host.invalid:6379/0")
    broker = _by_name(run_doctor(spec))["broker"]
    assert broker.status == "FAIL"
    assert "unknown host 'no-such-host.invalid'" in broker.detail
    assert SECRET not in broker.detail + broker.fix


def test_a_frozen_redis_is_reported_as_a_timeout(
    make_app: Callable[..., str], redis_server_factory: Callable[[], Any]
) -> None:
    server = redis_server_factory()
    spec = make_app(server.url)
    server.freeze()
    started = time.monotonic()
    broker = _by_name(run_doctor(spec, timeout=0.5))["broker"]
    assert broker.status == "FAIL"
    assert "within 0.5s" in broker.detail
    assert time.monotonic() - started < 10


@pytest.fixture
def password_redis(redis_server_factory: Callable[..., Any]) -> str:
    """``host:port/db`` of a private redis-server that requires the password SECRET (it
    answered a ping with it, or the test failed; stopped afterwards)."""
    return f"127.0.0.1:{redis_server_factory(password=SECRET).port}/0"


def test_a_wrong_or_missing_password_is_told_apart(
    make_app: Callable[..., str], password_redis: str
) -> None:
    wrong = _by_name(run_doctor(make_app(f"redis://:wrong-{SECRET}@{password_redis}")))
    assert wrong["broker"].status == "FAIL"
    assert "rejected the password" in wrong["broker"].detail
    assert SECRET not in wrong["broker"].detail
    missing = _by_name(run_doctor(make_app(f"redis://{password_redis}", suffix="nopw")))
    assert "requires a password" in missing["broker"].detail


def test_redis_settings_that_lose_tasks_warn(
    make_app: Callable[..., str], redis_server_factory: Callable[[], Any]
) -> None:
    server = redis_server_factory()  # started with save "" and appendonly no
    client = redis.Redis.from_url(server.url)
    client.config_set("maxmemory-policy", "allkeys-lru")
    spec = make_app(server.url)
    checks = _by_name(run_doctor(spec, timeout=0.5))
    assert checks["redis_persistence"].status == "WARN"
    assert "appendonly" in checks["redis_persistence"].fix
    assert checks["redis_eviction"].status == "WARN"
    assert "noeviction" in checks["redis_eviction"].fix
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("save", "3600 1")
    client.close()
    checks = _by_name(run_doctor(spec, timeout=0.5))
    assert checks["redis_persistence"].status == "PASS"
    assert checks["redis_eviction"].status == "PASS"


def test_pickle_in_accept_content_warns(make_app: Callable[..., str], free_port: int) -> None:
    down = f"redis://127.0.0.1:{free_port}/0"
    spec = make_app(down, accept_content=["json", "pickle"])
    serializer = _by_name(run_doctor(spec, timeout=0.5))["serializer"]
    assert serializer.status == "WARN"
    assert "pickle" in serializer.detail


def test_json_output_lists_every_check_in_order(
    make_app: Callable[..., str], capsys: pytest.CaptureFixture[str], free_port: int
) -> None:
    spec = make_app(f"redis://127.0.0.1:{free_port}/0")
    capsys.readouterr()
    assert main(["doctor", "-A", spec, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert [c["name"] for c in report["checks"]] == list(CHECK_NAMES)
    for check in report["checks"]:
        assert set(check) == {"name", "status", "detail", "fix"}
        assert check["status"] in STATUSES


def test_an_app_that_does_not_import_fails_the_first_check(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["doctor", "-A", "no_such_module_q2c:app"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("FAIL") and "no_such_module_q2c" in out
