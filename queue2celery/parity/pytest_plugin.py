"""pytest plugin (entry point ``pytest11``): the ``parity`` fixture for CI.

    def test_uploads_behave_the_same_on_celery(parity):
        report = parity.run("tests/parity_workloads/uploads.py")
        assert report.ok, report.explain()

``--parity-redis-url URL`` runs the workloads on that Redis instead of an embedded server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from ..legacy_queue import AdoptedQueue, TaskQueue
    from .report import ParityReport

__all__ = ["ParityFixture", "parity", "pytest_addoption"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("queue2celery")
    group.addoption(
        "--parity-redis-url",
        default=None,
        help="run parity workloads on this Redis instead of the embedded server",
    )


class ParityFixture:
    """What the ``parity`` fixture gives a test: ``run(...)`` with the session's Redis."""

    def __init__(self, redis_url: str | None, test_dir: Path | None) -> None:
        self.redis_url = redis_url
        self._test_dir = test_dir

    def run(
        self,
        workload: str | os.PathLike[str] | Callable[[Any], Any] | None = None,
        *,
        task_queue: TaskQueue | AdoptedQueue | None = None,
        workload_fn: Callable[[Any], Any] | None = None,
        observe: Callable[[], Any] | None = None,
        timeout: float | None = None,
    ) -> ParityReport:
        """``run("path/or.module")`` or ``run(task_queue=q, workload=fn)``; see parity.run."""
        # Imported here: every pytest session loads this plugin, most never use the fixture.
        from .harness import DEFAULT_TIMEOUT, run

        return run(
            self._locate(workload),
            task_queue=task_queue,
            workload_fn=workload_fn,
            observe=observe,
            redis_url=self.redis_url,
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
        )

    def _locate(self, workload: Any) -> Any:
        # A relative path is tried from the working directory, then from the test's own folder.
        if isinstance(workload, (str, os.PathLike)) and os.fspath(workload).endswith(".py"):
            path = Path(workload)
            if not path.is_absolute() and not path.exists() and self._test_dir is not None:
                beside = self._test_dir / path
                if beside.exists():
                    return str(beside)
        return workload


@pytest.fixture
def parity(request: pytest.FixtureRequest) -> ParityFixture:
    """Runs a workload through the legacy queue and through Celery: ``parity.run(...)``."""
    url = request.config.getoption("parity_redis_url")
    path = getattr(request, "path", None)
    return ParityFixture(url, path.parent if path is not None else None)
