"""The example app the guides walk through: the one place that says where it lives."""

from __future__ import annotations

from pathlib import Path


def example_app() -> Path:
    """The example app's folder (the demo copies the same one)."""
    from queue2celery.demo import example_path

    return example_path()
