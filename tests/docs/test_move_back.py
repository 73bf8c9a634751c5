"""The guides' move_back.py really runs the messages left in Redis, and empties the queue."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _blocks import DOCS, Block, blocks_of
from _example import copy_example, steps_before
from _rules import Workspace

from queue2celery import embedded_redis
from queue2celery.celery_tasks import make_celery_app

SCRIPTS = [b for doc in DOCS for b in blocks_of(doc) if b.file_path == "move_back.py"]


@pytest.mark.parametrize("block", SCRIPTS, ids=[b.id for b in SCRIPTS])
def test_move_back_runs_every_waiting_message_then_acks_it(block: Block, tmp_path: Path) -> None:
    # Rolling back comes after step 2: the copy has its Celery app and adopted queues.
    workdir = copy_example(tmp_path / "app", steps_before(block.doc, block.line))
    (workdir / "move_back.py").write_text(block.text, encoding="utf-8")
    with embedded_redis() as url:
        sender = make_celery_app("move_back_sender", broker_url=url, result_backend=url)
        try:
            for n, priority in ((1, 0), (2, 6)):  # two priority levels: two Redis lists
                # What the adopted queue sends for task_queue.put(job): the job itself.
                payload = {"video_id": f"v{n}", "path": "/u.mov"}
                job = {"type": "process_video_upload", "payload": payload}
                sender.send_task("process_video_upload", (job,), priority=priority)
        finally:
            sender.close()
        ws = Workspace(workdir, url)
        proc = subprocess.run(
            [sys.executable, "move_back.py"],
            cwd=workdir,
            env=ws.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "ran 2 message(s) in process" in proc.stdout
        again = subprocess.run(
            [sys.executable, "move_back.py"],
            cwd=workdir,
            env=ws.env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert "ran 0 message(s) in process" in again.stdout, again.stdout + again.stderr
