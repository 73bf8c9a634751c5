"""Run a per-file function over many files on several processes, in order."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

Progress = Callable[[int], None]

# Below this many items a pool costs more (process start, pickling) than it saves.
_INLINE_BELOW = 8


def default_jobs() -> int:
    return os.cpu_count() or 1


def _run_chunk(func: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [func(item) for item in chunk]


def parallel_map(
    func: Callable[[T], R],
    items: Sequence[T],
    jobs: int | None = None,
    progress: Progress | None = None,
    on_crash: Callable[[T], R] | None = None,
) -> list[R]:
    """``[func(i) for i in items]`` on ``jobs`` processes; ``progress(n)`` as chunks finish.

    ``func`` must be a module-level function and must not raise (it reports errors in its
    result), so one bad file never stops the others. A worker that dies (a native parser
    crash) costs only its own file: its chunk is redone one item per process and the item
    that kills its process gets ``on_crash(item)``.
    """
    jobs = default_jobs() if jobs is None else max(1, jobs)
    if jobs == 1 or len(items) < _INLINE_BELOW:
        out = []
        for item in items:
            out.append(func(item))
            if progress:
                progress(1)
        return out
    # Imported here: a run served by the cache, or with few files, never starts a pool.
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # Small chunks keep the cores busy when a few files cost far more than the rest.
    size = max(1, min(64, len(items) // (jobs * 8)))
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    results: list[list[R] | None] = [None] * len(chunks)
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(chunks))) as pool:
            futures = {pool.submit(_run_chunk, func, chunk): n for n, chunk in enumerate(chunks)}
            for future in as_completed(futures):
                n = futures[future]
                results[n] = future.result()
                if progress:
                    progress(len(chunks[n]))
    except BrokenProcessPool:
        for n, chunk in enumerate(chunks):
            if results[n] is None:
                results[n] = [_isolated(func, item, on_crash) for item in chunk]
    return [r for chunk in results if chunk is not None for r in chunk]


def _isolated(func: Callable[[T], R], item: T, on_crash: Callable[[T], R] | None) -> R:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    try:
        with ProcessPoolExecutor(max_workers=1) as pool:
            return pool.submit(func, item).result()
    except BrokenProcessPool:
        if on_crash is None:
            raise
        return on_crash(item)
