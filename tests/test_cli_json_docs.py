"""docs/json.md describes the JSON documents of scan, parity and doctor: every key the code
emits is documented there, every documented key is emitted, and the lists of codes, kinds
and check names are complete."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from queue2celery.cli import main
from queue2celery.doctor import CHECK_NAMES, STATUSES, Check, report_json
from queue2celery.migrate._link import SHARED_STATE
from queue2celery.migrate._risks import RISKS
from queue2celery.parity import MISMATCH_KINDS, BackendRun, CallRecord, Mismatch, ParityReport

DOC = (Path(__file__).resolve().parents[1] / "docs" / "json.md").read_text(encoding="utf-8")


def _section(command: str) -> str:
    match = re.search(rf"^## `queue2celery {command}.*?(?=^## |\Z)", DOC, re.M | re.S)
    assert match, f"docs/json.md has no section for {command}"
    return match.group(0)


def _documented_keys(section: str) -> set[str]:
    """The names in the first column of the section's tables (`a`, `b` -> a, b)."""
    keys: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if len(cells) > 2 and "`" in cells[1]:
            keys.update(re.findall(r"`([a-z_]+)`", cells[1]))
    return keys


def _emitted_keys(document: Any) -> set[str]:
    if isinstance(document, dict):
        return set(document).union(*(_emitted_keys(v) for v in document.values()))
    if isinstance(document, list):
        return set().union(*(_emitted_keys(v) for v in document))
    return set()


def _inline_keys(section: str) -> set[str]:
    """Keys given inline, as in ``{"code", "message"}``."""
    found: set[str] = set()
    for group in re.findall(r"`\{([^`]*)\}`", section):
        found.update(re.findall(r'"([a-z_]+)"', group))
    return found


def test_scan_json_is_documented(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.queue2celery.queues]\n"app.q.task_queue" = "app.tasks.process"\n', "utf-8"
    )
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "__init__.py").write_text("", "utf-8")
    (tmp_path / "app" / "q.py").write_text(
        "from queue2celery.legacy_queue import TaskQueue\n\n"
        "task_queue = TaskQueue()\n\n\n"
        "@task_queue.handler('resize', max_retries=2)\n"
        "def resize(item):\n    return item\n",
        "utf-8",
    )
    (tmp_path / "app" / "api.py").write_text(
        "from app.q import task_queue\n\n\ndef go():\n    task_queue.put((1, 2))\n", "utf-8"
    )
    (tmp_path / "app" / "broken.py").write_text("task_queue.put(1,\n", "utf-8")
    (tmp_path / "app" / "relay.py").write_text(
        "def forward(job_queue, item):\n    job_queue.put(item)\n", "utf-8"
    )
    (tmp_path / "app" / "jobs.py").write_text(
        "import queue\nimport threading\n\nwork = queue.Queue()\n\n\n"
        "def drain():\n    while True:\n        item = work.get()\n        print(item)\n\n\n"
        "def start():\n    threading.Thread(target=drain, daemon=True).start()\n\n\n"
        "def send(item):\n    work.put(item)\n\n\n"
        "def handle(user_id):\n    print(user_id)\n\n\n"
        "def route(user_id):\n    send({'user': user_id})\n"
        "    threading.Thread(target=handle, args=(user_id,)).start()\n",
        "utf-8",
    )
    (tmp_path / "app" / "cleanup.py").write_text(
        "import threading\nimport time\n\n\ndef purge():\n    pass\n\n\n"
        "def loop():\n    while True:\n        purge()\n        time.sleep(60)\n\n\n"
        "def start():\n    threading.Thread(target=loop, daemon=True).start()\n",
        "utf-8",
    )
    main(["scan", str(tmp_path), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert document["sites"] and document["handlers"] and document["errors"]
    assert document["periodic"] and document["candidates"]
    assert {"via", "function", "captures"} <= _emitted_keys(document["sites"])
    section = _section("scan")
    documented = _documented_keys(section) | _inline_keys(section)
    assert _emitted_keys(document) == documented
    for code in [*RISKS, SHARED_STATE]:
        assert f"`{code}`" in section, f"risk code {code!r} is not in docs/json.md"


def test_parity_json_is_documented() -> None:
    legacy = BackendRun("legacy", calls=[CallRecord(0, "resize", {})])
    celery = BackendRun(
        "celery",
        calls=[CallRecord(0, "resize", {})],
        info={"worker_start_seconds": 1.0, "redis": "redis://127.0.0.1:6379/0", "key_prefix": "p"},
    )
    mismatch = Mismatch(0, "resize", "arg_drift", "(1, 2)", "[1, 2]", "a list on Celery")
    document = ParityReport("w.py", legacy, celery, [mismatch]).to_dict()
    section = _section("parity")
    documented = _documented_keys(section) | _inline_keys(section)
    emitted = _emitted_keys(document)
    assert emitted <= documented, f"undocumented: {sorted(emitted - documented)}"
    # Documented but only present when a worker died or lost its broker:
    only_on_failure = {"worker_log_tail", "broker_connection_lost", "worker_exit_code"}
    errors = {"type", "message"}  # inside workload_error / observe_error when set
    assert documented - emitted == only_on_failure | errors
    for kind in MISMATCH_KINDS:
        assert f"`{kind}`" in section, f"mismatch kind {kind!r} is not in docs/json.md"


def test_doctor_json_is_documented() -> None:
    checks = [Check(name, "PASS", "fine") for name in CHECK_NAMES]
    document = report_json(checks)
    section = _section("doctor")
    assert _emitted_keys(document) == _documented_keys(section) | _inline_keys(section)
    listed = re.findall(r"`([a-z_]+)`", section.split("The names, in order:")[1])
    assert tuple(listed[: len(CHECK_NAMES)]) == CHECK_NAMES
    for status in STATUSES:
        assert f"`{status}`" in section
