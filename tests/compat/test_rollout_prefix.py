"""The rollout override and counters honour the app's ``global_keyprefix``, like every other
key the toolkit writes: a CompatQueue and ``rollout set -A APP`` meet on the same keys."""

from __future__ import annotations

import redis

from queue2celery.celery_tasks import make_celery_app
from queue2celery.cli import main
from queue2celery.compat import CompatQueue
from queue2celery.legacy_queue import TaskQueue


def test_compat_queue_and_the_cli_use_the_prefixed_keys(
    embedded_url: str, unique_name: str, write_module, capsys
) -> None:
    prefix = f"{unique_name}-tenant:"
    write_module(
        f"{unique_name}_app",
        "from queue2celery.celery_tasks import make_celery_app\n"
        f"app = make_celery_app({unique_name!r}, broker_url={embedded_url!r}, "
        f"result_backend={embedded_url!r}, "
        f"broker_transport_options={{'global_keyprefix': {prefix!r}}})\n"
        f"@app.task(name={unique_name + '.resize'!r}, shared=False)\n"
        "def resize(item):\n    return item\n",
    )
    app = make_celery_app(
        unique_name,
        broker_url=embedded_url,
        result_backend=embedded_url,
        broker_transport_options={"global_keyprefix": prefix},
    )
    legacy = TaskQueue()
    queue = CompatQueue(legacy, app, namespace=unique_name)
    try:
        assert queue.store is not None
        assert queue.store.override_key == f"{prefix}{unique_name}:rollout"
    finally:
        queue.close()
    argv = ["rollout", "set", f"{unique_name}.resize", "40", "--redis-url", embedded_url]
    argv += ["--namespace", unique_name, "-A", f"{unique_name}_app:app"]
    assert main(argv) == 0, capsys.readouterr()
    client = redis.Redis.from_url(embedded_url)
    assert client.hget(f"{prefix}{unique_name}:rollout", f"{unique_name}.resize") == b"40"
    assert not client.exists(f"{unique_name}:rollout")  # nothing written unprefixed


def test_rollout_set_knows_the_tasks_of_the_modules_the_app_imports(
    embedded_url: str, unique_name: str, write_module, capsys
) -> None:
    # The app module itself defines no task: a worker finds them through conf.imports.
    mod = unique_name.replace("-", "_")
    write_module(
        f"{mod}_jobs",
        f"from {mod}_app import app\n\n\n"
        f"@app.task(name={unique_name + '.resize'!r}, shared=False)\n"
        "def resize(item):\n    return item\n",
    )
    write_module(
        f"{mod}_app",
        "from queue2celery.celery_tasks import make_celery_app\n"
        f"app = make_celery_app({unique_name!r}, broker_url={embedded_url!r})\n"
        f"app.conf.imports = ({mod + '_jobs'!r},)\n",
    )
    argv = ["rollout", "set", f"{unique_name}.resize", "25", "--redis-url", embedded_url]
    argv += ["--namespace", unique_name, "-A", f"{mod}_app:app"]
    assert main(argv) == 0, capsys.readouterr()
    client = redis.Redis.from_url(embedded_url)
    assert client.hget(f"{unique_name}:rollout", f"{unique_name}.resize") == b"25"
