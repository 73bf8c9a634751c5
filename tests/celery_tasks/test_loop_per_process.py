"""One event loop per worker process (celery_tasks._loop): async handlers keep the loop their
clients bound to, across tasks and Python versions (asyncio's loop binding changed in 3.10 and
its fork warnings in 3.12); a forked child gets a loop of its own."""

from __future__ import annotations

import asyncio
import os
import time
import warnings
from collections.abc import Generator
from typing import Any

import pytest

from queue2celery.celery_tasks._loop import resolve


def test_a_plain_value_is_returned_as_it_is() -> None:
    marker = object()
    assert resolve(marker) is marker
    assert resolve(None) is None


def test_an_asyncio_client_bound_on_the_first_task_still_works_on_the_second() -> None:
    state: dict[str, Any] = {}

    async def first() -> int:
        # An asyncio.Queue binds to the running loop on first use, like a DB pool would.
        state["queue"] = asyncio.Queue()
        await state["queue"].put(41)
        state["loop"] = asyncio.get_running_loop()
        return 1

    async def second() -> int:
        assert asyncio.get_running_loop() is state["loop"]
        value = await asyncio.wait_for(state["queue"].get(), timeout=5)
        return int(value) + 1

    assert resolve(first()) == 1
    assert resolve(second()) == 42


def test_any_awaitable_is_awaited_and_errors_come_back() -> None:
    class Deferred:
        def __await__(self) -> Generator[Any, None, str]:
            yield from asyncio.sleep(0).__await__()
            return "done"

    assert resolve(Deferred()) == "done"

    async def boom() -> None:
        raise LookupError("no such row")

    with pytest.raises(LookupError, match="no such row"):
        resolve(boom())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork exists on POSIX only")
def test_a_forked_child_runs_awaitables_on_a_loop_of_its_own() -> None:
    async def loop_id() -> int:
        # Had the child reused the parent's loop, whose thread a fork does not copy, this
        # would never run and the child would hang.
        await asyncio.sleep(0.01)
        return id(asyncio.get_running_loop())

    parent_loop = resolve(loop_id())
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():
        # 3.12+ warns that forking a multi-threaded process may deadlock: the point here is
        # that the child does not use the parent's (now threadless) loop.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(read_end)
            child_loop = resolve(loop_id())
            os.write(write_end, f"{child_loop} {os.getpid()}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + 20
    done = 0
    try:
        while time.monotonic() < deadline:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the forked child did not finish within 20 s (its loop hung)")
    finally:
        if not done:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
    answer = os.read(read_end, 100).decode().split()
    os.close(read_end)
    assert len(answer) == 2, answer
    assert int(answer[1]) == pid
    assert resolve(loop_id()) == parent_loop, "the parent keeps its own loop"
