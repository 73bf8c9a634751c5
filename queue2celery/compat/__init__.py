"""queue2celery.compat (see DESIGN.md)."""

from __future__ import annotations

__all__: list[str] = []
