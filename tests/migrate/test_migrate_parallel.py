"""The process pool behind scan and rewrite: order kept, one dying worker costs one item."""

from __future__ import annotations

import os

from queue2celery.migrate._parallel import parallel_map


def _square_or_die(n: int) -> int:
    if n == 13:
        os._exit(3)  # what a native parser crash looks like to the pool
    return n * n


def test_results_come_back_in_order_with_progress() -> None:
    items = list(range(14, 54))
    seen: list[int] = []
    assert parallel_map(_square_or_die, items, 2, seen.append) == [n * n for n in items]
    assert sum(seen) == len(items)


def test_a_worker_that_dies_costs_only_its_own_item() -> None:
    items = [n for n in range(30)]
    out = parallel_map(_square_or_die, items, 2, None, on_crash=lambda n: -n)
    assert out == [-13 if n == 13 else n * n for n in items]
