"""Celery's own JSON carrying the app's payload classes, for calls that send an object
straight to a task (``dispatch_jobs.delay(job)`` after rewrite), not through a CompatQueue."""

from __future__ import annotations

from kombu.utils.json import register_type

from ..legacy_queue._codec import TypeTable, tag_of
from ._types import TypeEncoder

__all__ = ["carry_types"]


def carry_types(*classes: type) -> None:
    """Register ``classes`` (dataclasses, pydantic models, attrs classes, NamedTuples, Enums)
    with Celery's JSON serializer: an instance sent as a task argument travels tagged and
    arrives as the same class; the classes not listed are never rebuilt. Run it in the
    sending process before the first send and in the worker when it starts (the serializer's
    registry is per process). Raises ConfigError for a class that cannot cross."""
    table = TypeTable(classes)
    encoder = TypeEncoder(table, "json")
    for cls in classes:
        register_type(cls, f"q2c:{tag_of(cls)}", encoder.encode, table.decode)
