"""Fixtures for the example app: copies at a step of the guide, and the API served over HTTP."""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

import queue2celery

EXAMPLES = Path(queue2celery.__file__).resolve().parent / "examples"
EXAMPLE = EXAMPLES / "legacy_app"
STEPS = EXAMPLES / "legacy_app_steps"


def _forget_the_app() -> None:
    # Each copy is another version of the same package: import it afresh every time.
    for name in [m for m in sys.modules if m == "fastapi_app" or m.startswith("fastapi_app.")]:
        del sys.modules[name]


@pytest.fixture
def example_at(tmp_path: Path) -> Callable[..., Path]:
    """``example_at("2_adopt", "4_fix")``: a copy of the example with those guide steps applied."""

    def _copy(*steps: str) -> Path:
        target = tmp_path / f"copy{len(list(tmp_path.iterdir()))}" / "legacy_app"
        shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__"))
        for step in steps:
            shutil.copytree(STEPS / step, target, dirs_exist_ok=True)
        return target

    return _copy


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch, free_port: int) -> Iterator[Callable[..., httpx.Client]]:
    """``serve(app_dir, REDIS_URL=...)``: that copy's API on a spare port, lifespan included."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    clients: list[httpx.Client] = []

    def _serve(app_dir: Path, **env: str) -> httpx.Client:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        _forget_the_app()
        monkeypatch.syspath_prepend(str(app_dir))
        from fastapi_app.main import app

        config = uvicorn.Config(app, host="127.0.0.1", port=free_port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="example-api", daemon=True)
        thread.start()
        servers.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                pytest.fail("the example API did not start within 10s")
            time.sleep(0.02)
        client = httpx.Client(base_url=f"http://127.0.0.1:{free_port}", timeout=5)
        clients.append(client)
        return client

    try:
        yield _serve
    finally:
        for client in clients:
            client.close()
        for server, thread in servers:
            server.should_exit = True
            thread.join(timeout=15)
        _forget_the_app()
