"""Fixtures for the migrate tests: the golden mapping and small project trees on disk."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from queue2celery.migrate import MigrateConfig

GOLDEN_MODULE = "app.api.routes"  # every golden case is this module of the same project

GOLDEN_CONFIG = MigrateConfig.from_mappings(
    queues={
        "app.tasks.queue.task_queue": "app.celery_tasks.process_task",
        "app.tasks.queue.priority_queue": "app.celery_tasks.process_task",
        "app.tasks.manager.task_manager": "app.celery_tasks.run_managed_task",
        "app.api.routes.Worker.jobs": "app.celery_tasks.process_job",
    },
    functions={
        "app.jobs.send_email": "app.celery_tasks.send_email",
        "app.jobs.resize_image": "app.celery_tasks.resize_image_task",
    },
)
GOLDEN_CONFIG = replace(GOLDEN_CONFIG, types=("app.models.Job",))

PYPROJECT = """\
[tool.queue2celery.queues]
"app.tasks.queue.task_queue" = "app.celery_tasks.process_task"

[tool.queue2celery.functions]
"app.jobs.send_email" = "app.celery_tasks.send_email"
"""

Project = Callable[..., Path]


@pytest.fixture
def golden_config() -> MigrateConfig:
    """The mapping every golden case is rewritten with."""
    return GOLDEN_CONFIG


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Writes ``{relative path: source}`` under tmp_path/proj (with the pyproject mapping)
    and returns the project root. Packages get their ``__init__.py`` automatically."""

    def make(files: dict[str, str], pyproject: str = PYPROJECT) -> Path:
        root = tmp_path / "proj"
        root.mkdir(exist_ok=True)
        (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
        for rel, source in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            folder = path.parent
            while folder != root:
                (folder / "__init__.py").touch(exist_ok=True)
                folder = folder.parent
            path.write_text(textwrap.dedent(source), encoding="utf-8")
        return root

    return make
