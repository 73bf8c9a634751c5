"""A project whose legacy TaskQueue is wrapped by a CompatQueue, with a real worker behind it.

``compat_stack`` starts one worker per backend (embedded fakeredis, real Redis) for the
whole session of this directory: a worker per test would cost seconds each on a shared
machine. Each stack has its own queue and key namespace, so concurrent test runs and
other helpers' workers never take its messages.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from _compat_stack import CompatStack, compat_project

from queue2celery import embedded_redis


@pytest.fixture(
    scope="session", params=["embedded", pytest.param("redis", marks=pytest.mark.redis)]
)
def compat_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CompatStack]:
    """The compat project on the embedded server, then on the real Redis, one worker each."""
    with contextlib.ExitStack() as stack:
        if request.param == "embedded":
            url = stack.enter_context(embedded_redis())
        else:
            url = request.getfixturevalue("_real_redis_checked")
        directory = tmp_path_factory.mktemp("compat")
        yield stack.enter_context(compat_project(url, directory))
