"""``queue2celery init``: write the Celery side that scan's findings call for.

It reads the project statically (never imports it), reuses the Celery app and the tasks it
already has, and writes one reviewed module (``PKG/celery_tasks.py`` by default) whose
generated region only init updates:

- for each legacy queue, ``adopt_<queue>(queue)``: the one-line ``adopt`` wiring, with the
  dispatch read from the queue's consumer loop (or a stub that quotes the loop), and
  ``dispatch_<queue>``: the task rewrite sends the queue's items to;
- for each function run in the background, a Celery task that calls it (awaited when async);
- the ``[tool.queue2celery]`` tables, filled with those tasks' names.

Running it again changes nothing; a region edited by hand is never overwritten without
``force``.
"""

from __future__ import annotations

from .plan import InitResult, init

__all__ = ["InitResult", "init"]
