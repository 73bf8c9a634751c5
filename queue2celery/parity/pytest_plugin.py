"""pytest plugin (entry point ``pytest11``): the ``parity`` fixture for CI."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("queue2celery")
    group.addoption(
        "--parity-redis-url",
        default=None,
        help="run parity workloads on this Redis instead of the embedded server",
    )
