"""doctor on managed-Redis set-ups: cluster mode and Lua scripting refused, on real servers."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from queue2celery.celery_tasks import make_celery_app
from queue2celery.doctor import CHECK_NAMES, Check, run_doctor
from queue2celery.doctor._connect import redis_client
from queue2celery.doctor._managed import check_cluster, check_scripting

pytestmark = pytest.mark.redis


@pytest.fixture
def client_of() -> Iterator[Callable[..., redis.Redis]]:
    clients: list[redis.Redis] = []

    def _client(url: str) -> redis.Redis:
        client = redis_client(url, 2.0)
        clients.append(client)
        return client

    yield _client
    for client in clients:
        client.close()


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def test_a_standard_redis_passes_both_checks_in_their_place(
    redis_server_factory: Callable[..., object],
) -> None:
    server = redis_server_factory()
    app = make_celery_app("managed_std", broker_url=server.url, result_backend=server.url)  # type: ignore[attr-defined]
    started = time.monotonic()
    checks = run_doctor(app, timeout=0.5)
    assert time.monotonic() - started < 20
    assert [c.name for c in checks] == list(CHECK_NAMES)
    named = _by_name(checks)
    assert named["redis_cluster"].status == "PASS", named["redis_cluster"]
    assert named["redis_eval"].status == "PASS", named["redis_eval"]


def test_cluster_mode_is_detected_and_warned_about(
    redis_server_factory: Callable[..., object], tmp_path: Path, free_port: int
) -> None:
    # A single node in cluster mode: INFO reports cluster_enabled:1 with no slot assigned.
    # The bus port is given: by default it is port + 10000, past 65535 for a high spare port.
    server = redis_server_factory(
        "--dir", str(tmp_path), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
        "--cluster-port", str(free_port),
    )  # fmt: skip
    app = make_celery_app("managed_cluster", broker_url=server.url, result_backend=server.url)  # type: ignore[attr-defined]
    checks = run_doctor(app, timeout=0.5)
    cluster = _by_name(checks)["redis_cluster"]
    assert cluster.status == "WARN"
    assert "cluster_enabled:1" in cluster.detail
    assert "primary/replica" in cluster.fix


def test_eval_renamed_away_is_warned_about(
    redis_server_factory: Callable[..., object],
    client_of: Callable[..., redis.Redis],
    tmp_path: Path,
) -> None:
    server = redis_server_factory("--dir", str(tmp_path), "--rename-command", "EVAL", "")
    result = check_scripting(client_of(server.url))  # type: ignore[attr-defined]
    assert result.status == "WARN"
    assert "EVAL (" in result.detail and "unknown command" in result.detail.lower()
    # EVALSHA still works there, and the report says so instead of crying wolf.
    assert "EVALSHA/SCRIPT LOAD (" not in result.detail
    assert "still run" in result.detail


def test_an_acl_user_without_scripting_is_warned_about(
    redis_server_factory: Callable[..., object], client_of: Callable[..., redis.Redis]
) -> None:
    server = redis_server_factory()
    admin = client_of(server.url)  # type: ignore[attr-defined]
    admin.acl_setuser(
        "noscript",
        enabled=True,
        passwords=["+s3cret"],
        keys=["*"],
        channels=["*"],
        commands=["+@all", "-@scripting"],
    )
    port = server.port  # type: ignore[attr-defined]
    limited = client_of(f"redis://noscript:s3cret@127.0.0.1:{port}/0")
    result = check_scripting(limited)
    assert result.status == "WARN"
    assert "no permissions" in result.detail
    assert "EVAL (" in result.detail and "EVALSHA/SCRIPT LOAD (" in result.detail
    assert "s3cret" not in result.detail + result.fix


def test_without_a_reachable_broker_both_checks_skip() -> None:
    assert check_cluster(None).status == "SKIP"
    assert check_scripting(None).status == "SKIP"


def test_the_embedded_server_passes_or_skips_without_error(embedded_url: str) -> None:
    client = redis_client(embedded_url, 2.0)
    try:
        assert check_cluster(client).status in ("PASS", "SKIP")
        assert check_scripting(client).status == "PASS"
    finally:
        client.close()
