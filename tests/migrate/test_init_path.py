"""The whole path on an app init set up, with nothing written by hand: scan -> init -> a real
worker -> rewrite -> check, and the rewritten app's route sends the tasks the worker runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from _init_apps import make_app

from queue2celery.cli import main

pytestmark = pytest.mark.worker


def _env(root: Path, url: str) -> dict[str, str]:
    return {
        "PYTHONPATH": str(root),
        "REDIS_URL": url,
        "CELERY_BROKER_URL": url,
        "CELERY_RESULT_BACKEND": url,
    }


@pytest.mark.parametrize(
    ("name", "package", "route"),
    [
        ("reuse", "blog", "from blog.api.admin import purge as route\nargs = ()"),
        ("cycle", "crm", "from crm.api.deps import schedule_report as route\nargs = ('11',)"),
    ],
)
def test_scan_init_worker_rewrite_check_on_an_app_with_background_functions(
    name: str,
    package: str,
    route: str,
    tmp_path: Path,
    embedded_url: str,
    worker_factory: Callable[..., Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = make_app(name, tmp_path)
    assert main(["scan", str(root), "--json", "-j", "1"]) in (0, 1)
    found = json.loads(capsys.readouterr().out)
    assert {s["kind"] for s in found["sites"]} == {"background_task"}
    assert main(["init", str(root), "-j", "1"]) == 0, capsys.readouterr().out
    capsys.readouterr()
    assert main(["check", str(root), "-j", "1"]) == 1  # the sites are still there
    capsys.readouterr()
    assert main(["rewrite", str(root), "-j", "1"]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert main(["check", str(root), "-j", "1"]) == 0, capsys.readouterr().out
    worker_factory(f"{package}.celery_tasks:celery_app", cwd=root, env=_env(root, embedded_url))
    # The rewritten route, called as FastAPI would (its BackgroundTasks parameter is gone or
    # unused): every task it sends runs on the worker.
    client = textwrap.dedent(
        """
        import inspect, json, time
        from celery.result import AsyncResult
        from {package}.celery_tasks import celery_app
        import celery.app.task as task_module

        sent = []
        original = task_module.Task.apply_async

        def spy(self, *args, **kwargs):
            result = original(self, *args, **kwargs)
            sent.append(result.id)
            return result

        task_module.Task.apply_async = spy
        {route}
        # A BackgroundTasks parameter rewrite left in place gets None (nothing uses it now).
        if "background_tasks" in inspect.signature(route).parameters:
            args = (None, *args)
        route(*args)
        states = {{}}
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline:
            states = {{i: AsyncResult(i, app=celery_app).state for i in sent}}
            if sent and all(s in ("SUCCESS", "FAILURE") for s in states.values()):
                break
            time.sleep(0.1)
        print(json.dumps(states))
        """
    ).format(package=package, route="{route}")
    client = client.replace("{route}", route)
    done = subprocess.run(
        [sys.executable, "-c", client],
        cwd=root,
        env={**os.environ, **_env(root, embedded_url)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    states = json.loads(done.stdout.strip().splitlines()[-1])
    assert states and set(states.values()) == {"SUCCESS"}, states
