"""queue2celery.legacy_queue (see DESIGN.md)."""

from __future__ import annotations

__all__: list[str] = []
