"""A handler whose failures depend on a counter the caller set: retries differ, results do not.

``retry_delay=60`` also shows that retries are instant in the harness.
"""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
FAILURES_LEFT = {"n": 0}


@task_queue.handler("sync_account", max_retries=3, retry_delay=60)
def sync_account(account):
    if FAILURES_LEFT["n"] > 0:
        FAILURES_LEFT["n"] -= 1
        raise ConnectionError("upstream busy")
    return "synced"


def workload(q):
    FAILURES_LEFT["n"] = 2
    q.put("acct-1")
