"""Fixtures for the example app: its folder on sys.path, and the API served over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "legacy_app"


@pytest.fixture
def example_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example's folder, put on sys.path so ``import fastapi_app`` works."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    return EXAMPLE


@pytest.fixture
def api(example_path: Path, free_port: int) -> Iterator[httpx.Client]:
    """The example API served by uvicorn on a spare port (lifespan included); stopped after."""
    from fastapi_app.main import app

    config = uvicorn.Config(app, host="127.0.0.1", port=free_port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="example-api", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            pytest.fail("the example API did not start within 10s")
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{config.port}", timeout=5) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)
