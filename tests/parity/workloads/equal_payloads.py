"""Must come out equal: datetimes and UUIDs, Chinese text, empty and large payloads."""

import datetime
import decimal
import uuid

from queue2celery.legacy_queue import TaskQueue

task_queue = TaskQueue()


@task_queue.handler
def echo(item):
    return item


def workload(q):
    when = datetime.datetime(2024, 5, 1, 8, 30, tzinfo=datetime.timezone.utc)
    price = decimal.Decimal("9.99")
    q.put({"at": when, "day": when.date(), "id": uuid.UUID(int=7), "price": price})
    q.put({"标题": "视频处理完成", "说明": ["上传", "转码", "发布"]})
    q.put("")
    q.put({})
    q.put([])
    q.put(None)
    # ~0.6 MB of JSON (tests/test_embedded_redis.py carries a 4 MB one through a worker).
    q.put({"blob": "数据" * 50_000, "rows": [{"n": i, "v": str(i)} for i in range(5_000)]})
