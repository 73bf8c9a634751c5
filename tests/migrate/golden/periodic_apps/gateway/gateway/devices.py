"""设备状态轮询与指标上报。"""

import requests

from gateway.utils.periodic import PeriodicTask

METRICS_INTERVAL = 15  # 秒
DEVICE_STATUS: dict[str, str] = {}


def poll_device_status() -> None:
    resp = requests.get("http://devices.local/status", timeout=5)
    DEVICE_STATUS.update(resp.json())


def push_metrics() -> None:
    requests.post("http://metrics.local/push", json={"n": len(DEVICE_STATUS)}, timeout=5)


def device_status(device_id: str) -> str:
    return DEVICE_STATUS.get(device_id, "unknown")


status_poller = PeriodicTask(30, poll_device_status, name="status")
metrics_pusher = PeriodicTask(interval=METRICS_INTERVAL, func=push_metrics)
