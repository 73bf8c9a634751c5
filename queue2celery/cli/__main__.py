"""``python -m queue2celery.cli``: the same as the ``queue2celery`` command."""

from __future__ import annotations

from . import _entry

_entry()
