"""A Celery app built from a legacy TaskQueue, with a real worker behind it.

``celery_stack`` starts one worker per backend (embedded fakeredis, real Redis) per test
module, stopped when the module's tests are done: a worker per test would cost seconds
each on a shared machine. Every test sends distinct items, so tests stay independent.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
from _celery_stack import APP_MODULE, CeleryStack

from queue2celery import embedded_redis
from queue2celery.celery_tasks import start_worker


def _import_app_module(directory: Path, module_name: str, url: str) -> ModuleType:
    # REDIS_URL is read when the module builds its app; set only for that moment, so the
    # rest of the session (and the real-Redis fixtures) see the environment unchanged.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("REDIS_URL", url)
        mp.syspath_prepend(str(directory))
        return importlib.import_module(module_name)


@pytest.fixture(scope="module", params=["embedded", pytest.param("redis", marks=pytest.mark.redis)])
def celery_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryStack]:
    """The test app on the embedded server, then on the real Redis, with one worker each."""
    with contextlib.ExitStack() as stack:
        if request.param == "embedded":
            url = stack.enter_context(embedded_redis())
        else:
            url = request.getfixturevalue("_real_redis_checked")
        name = f"q2ctest-{uuid.uuid4().hex[:10]}"
        module_name = name.replace("-", "_") + "_app"
        directory = tmp_path_factory.mktemp(module_name)
        (directory / f"{module_name}.py").write_text(
            textwrap.dedent(APP_MODULE.format(name=name)), encoding="utf-8"
        )
        module = _import_app_module(directory, module_name, url)
        stack.callback(sys.modules.pop, module_name, None)
        stack.callback(module.app.close)
        stack.callback(_delete_keys, url, name)
        worker = start_worker(f"{module_name}:app", cwd=directory, env={"REDIS_URL": url})
        stack.callback(worker.stop)
        worker.wait_ready(60)
        yield CeleryStack(url, name, module, worker, directory)


def _delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=5)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()
