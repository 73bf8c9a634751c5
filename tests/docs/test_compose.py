"""docs/docker-compose.yml: each service's command is checked against the real CLIs, and
Redis's options against a real redis-server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml
from _blocks import REPO
from _example import module_exists
from _rules import _celery, _parse, parse_queue2celery

COMPOSE = REPO / "docs" / "docker-compose.yml"


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, Any]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def test_the_stack_has_its_five_services() -> None:
    assert set(_services()) == {"api", "worker", "beat", "redis", "flower"}


def _app_module_exists(spec: str) -> None:
    # The Celery app comes with step 2 (legacy_app_steps/2_adopt): the "before" has none.
    assert module_exists(spec.split(":", 1)[0]), f"{spec!r} names no module of the example app"


@pytest.mark.parametrize("name", ["api", "worker", "beat", "flower"])
def test_each_command_parses_with_its_own_cli(name: str) -> None:
    command = _services()[name]["command"]
    assert isinstance(command, list), f"{name}: give the command as a list (no shell)"
    program, args = command[0], command[1:]
    if program == "queue2celery":
        parse_queue2celery(args)
        _app_module_exists(args[args.index("-A") + 1])
    elif program == "celery":
        _celery(args)
        _app_module_exists(args[args.index("-A") + 1])
    elif program == "uvicorn":
        from uvicorn.main import main as uvicorn_cli

        _parse(uvicorn_cli, args, "uvicorn")
        _app_module_exists(args[0])
    else:
        pytest.fail(f"{name}: no CLI known for {program!r}")


def test_flower_is_bound_to_localhost_with_basic_auth() -> None:
    flower = _services()["flower"]
    assert flower["ports"], "flower publishes no port"
    for mapping in flower["ports"]:
        assert str(mapping).startswith("127.0.0.1:"), f"{mapping!r} exposes Flower to the network"
    assert any(arg.startswith("--basic-auth=") for arg in flower["command"])


def test_the_spool_file_is_on_a_volume() -> None:
    api = _services()["api"]
    spool = api["environment"]["Q2C_SPOOL_PATH"]
    mounts = [str(v).split(":", 1) for v in api.get("volumes", [])]
    assert any(
        source in _compose().get("volumes", {}) and spool.startswith(target.rstrip("/") + "/")
        for source, target in mounts
    ), f"Q2C_SPOOL_PATH={spool!r} is not on a named volume"


def test_app_services_wait_for_a_healthy_redis() -> None:
    services = _services()
    assert services["redis"]["healthcheck"]["test"]
    for name in ("api", "worker", "beat", "flower"):
        depends = services[name]["depends_on"]["redis"]
        assert depends["condition"] == "service_healthy", name


@pytest.mark.redis
def test_redis_runs_with_the_files_options(
    redis_server_factory: Callable[..., Any], tmp_path: Path
) -> None:
    command = _services()["redis"]["command"]
    assert command[0] == "redis-server"
    # The file's options come last and win; its AOF goes to a temp dir, not the cwd.
    server = redis_server_factory("--dir", str(tmp_path), *command[1:])
    client = redis.Redis.from_url(server.url, decode_responses=True)
    try:
        assert client.config_get("appendonly")["appendonly"] == "yes"
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
    finally:
        client.close()
