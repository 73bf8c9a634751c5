"""Must come out equal: retries that end in success, and the same exception on both sides."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue(route=lambda item: item["kind"])
ATTEMPTS: dict[str, int] = {}


@task_queue.handler("flaky", max_retries=3, retry_delay=30)
def flaky(item):
    # Process memory the handler keeps for itself is fine: each backend has its own.
    ATTEMPTS[item["id"]] = ATTEMPTS.get(item["id"], 0) + 1
    if ATTEMPTS[item["id"]] < 3:
        raise ConnectionError(f"attempt {ATTEMPTS[item['id']]} failed")
    return {"id": item["id"], "attempts": ATTEMPTS[item["id"]]}


@task_queue.handler("broken", max_retries=1, retry_delay=30)
def broken(item):
    raise ValueError(f"cannot process {item['id']}")


def workload(q):
    q.put({"kind": "flaky", "id": "a"})
    q.put({"kind": "broken", "id": "b"})
    q.put({"kind": "flaky", "id": "c"})
