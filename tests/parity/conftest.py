"""Fixtures for the parity tests: where the workloads live, and the Redis to run them on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WORKLOADS = Path(__file__).parent / "workloads"


@pytest.fixture
def workload_file() -> Callable[[str], str]:
    """``workload_file("arg_drift")`` -> the path of ``tests/parity/workloads/arg_drift.py``."""

    def _path(name: str) -> str:
        path = WORKLOADS / f"{name}.py"
        assert path.is_file(), path
        return str(path)

    return _path


@pytest.fixture(params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def parity_redis(request: pytest.FixtureRequest) -> str | None:
    """None (the harness starts its own embedded server), then the real Redis's URL."""
    if request.param == "embedded":
        return None
    return str(request.getfixturevalue("real_redis"))
