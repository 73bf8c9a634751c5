"""The doctor's checks, one group per module; the public face is :mod:`queue2celery.doctor`."""

from __future__ import annotations

from ._check import Check, Status

__all__ = ["Check", "Status"]
