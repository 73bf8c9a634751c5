"""Both backends fail, for different reasons: a lookup table only the caller filled."""

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()
KNOWN: dict[str, int] = {}


@task_queue.handler
def charge(order_id):
    amount = KNOWN[order_id]
    raise ValueError(f"card declined for {amount}")


def workload(q):
    KNOWN["order-7"] = 42
    q.put("order-7")
