"""A consumer loop that puts a failed item back on its own queue is still the queue's consumer
(the re-put is requeue-in-consumer), not a connection pool that lends and takes back."""

from __future__ import annotations

from queue2celery.migrate import load_config, scan

JOBS = """
import queue
import threading
import time

task_queue = queue.Queue()


def worker_loop():
    while True:
        job = task_queue.get()
        try:
            print(job["type"])
        except Exception:
            # 失败了就放回去重试
            time.sleep(1)
            task_queue.put(job)
        finally:
            task_queue.task_done()


def start():
    threading.Thread(target=worker_loop, daemon=True).start()
"""

POOL = """
import queue

pool = queue.Queue()


def query(sql):
    conn = pool.get()
    try:
        return conn.execute(sql)
    finally:
        pool.put(conn)
"""


def test_a_consumer_that_requeues_its_item_still_drains_the_queue(project) -> None:
    root = project(
        {
            "app/jobs.py": JOBS,
            "app/api.py": "from app.jobs import task_queue\n\n\ndef go(x):\n"
            "    task_queue.put({'type': x})\n",
        }
    )
    result = scan(root, load_config(root), jobs=1)
    found = {(s.path, s.kind): [r.code for r in s.risks] for s in result.sites}
    assert ("app/api.py", "queue_put") in found
    assert found[("app/jobs.py", "queue_put")] == ["requeue-in-consumer"]


def test_a_connection_pool_stays_silent(project) -> None:
    root = project({"app/db.py": POOL})
    result = scan(root, load_config(root), jobs=1)
    assert result.sites == () and result.candidates == ()
