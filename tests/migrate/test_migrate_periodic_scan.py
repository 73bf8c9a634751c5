"""scan reports periodic work: loops started in a thread or task, ``schedule``, APScheduler,
fastapi-utils ``repeat_every`` and home-made periodic classes; look-alikes stay silent."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from queue2celery.migrate import MigrateConfig, scan
from queue2celery.migrate._periodic import may_hold_periodic

APPS = Path(__file__).parent / "golden" / "periodic_apps"


def _jobs(root: Path, config: MigrateConfig | None = None) -> dict[str, dict]:
    result = scan(root, config or MigrateConfig(), jobs=1)
    assert not result.errors
    return {job.name: job.to_dict() for job in result.periodic}


@pytest.mark.parametrize("app", ["shop", "reports", "gateway"])
def test_fixture_app_gives_its_golden_periodic_document(app: str) -> None:
    result = scan(APPS / app, MigrateConfig(), jobs=1)
    expected = json.loads((APPS / f"{app}.expected.json").read_text(encoding="utf-8"))
    assert [job.to_dict() for job in result.periodic] == expected


def test_shop_finds_its_three_loops_and_none_of_the_look_alikes() -> None:
    jobs = _jobs(APPS / "shop")
    assert sorted(jobs) == ["cancel_expired_orders", "flush_stats", "refresh_hot_products"]
    orders = jobs["cancel_expired_orders"]
    assert orders["schedule"]["seconds"] == 60  # settings.ORDER_TIMEOUT_CHECK_SECONDS default
    assert orders["callable"] == "app.services.orders:cancel_expired_orders"
    assert orders["started_by"] == "thread" and orders["async"] is False
    assert [r["code"] for r in orders["risks"]] == ["overrun"]  # database work every minute
    cache = jobs["refresh_hot_products"]
    assert cache["schedule"]["seconds"] == 600  # CACHE_REFRESH_MINUTES * 60
    assert cache["async"] is True and cache["started_by"] == "task"
    assert "process-state" in [r["code"] for r in cache["risks"]]  # HOT_PRODUCTS, read by the API
    assert cache["start"]["path"] == "app/main.py"
    stats = jobs["flush_stats"]
    assert stats["schedule"]["seconds"] == 300  # 5 * 60 from another module
    assert stats["start"]["code"] == "flusher.start()"  # two calls from the thread target
    # retry loop, queue consumer (loops.py), polling wait, SSE, websocket keep-alive (main.py)
    lines = {(j["path"], j["line"]) for j in jobs.values()}
    assert not {line for path, line in lines if path == "app/main.py"}
    assert {line for path, line in lines if path == "app/workers/loops.py"} == {24, 33, 39}


def test_reports_schedule_and_apscheduler_jobs() -> None:
    jobs = _jobs(APPS / "reports")
    assert sorted(jobs) == [
        "cleanup_tmp",
        "heartbeat",
        "rotate_logs",
        "send_daily_report",
        "sync_exchange_rates",
        "weekly_summary",
    ]  # send_welcome is a one-off ("date" trigger): not periodic
    assert jobs["rotate_logs"]["schedule"]["seconds"] == 6 * 3600
    daily = jobs["send_daily_report"]["schedule"]
    assert (daily["type"], daily["hour"], daily["minute"]) == ("cron", "2", "0")  # REPORT_TIME
    weekly = jobs["weekly_summary"]["schedule"]
    assert (weekly["day_of_week"], weekly["hour"], weekly["minute"]) == ("mon", "9", "30")
    rates = jobs["sync_exchange_rates"]
    assert rates["schedule"]["seconds"] == 900  # int(os.getenv("RATE_SYNC_MINUTES", "15"))
    assert rates["options"] == {"id": "sync_rates", "misfire_grace_time": 30, "coalesce": True}
    assert any("RATE_SYNC_MINUTES" in note for note in rates["notes"])
    cleanup = jobs["cleanup_tmp"]["schedule"]
    assert (cleanup["hour"], cleanup["minute"]) == ("3", "30")
    assert any("Asia/Shanghai" in note for note in jobs["cleanup_tmp"]["notes"])
    assert jobs["heartbeat"]["start"]["code"].startswith("@scheduler.scheduled_job(")
    for name in ("sync_exchange_rates", "cleanup_tmp", "heartbeat"):  # the pause endpoint
        assert "runtime-control" in [r["code"] for r in jobs[name]["risks"]]
    # CRLF file: lines are still right
    assert jobs["weekly_summary"]["line"] == 15


def test_gateway_home_made_classes_inline_loop_and_unknown_interval() -> None:
    jobs = _jobs(APPS / "gateway")
    poller = jobs["poll_device_status"]
    assert (poller["started_by"], poller["schedule"]["seconds"]) == ("homemade", 30)
    assert poller["start"]["code"] == "status_poller.start()"
    metrics = jobs["push_metrics"]
    assert metrics["schedule"]["seconds"] == 15  # interval=METRICS_INTERVAL keyword
    assert "runtime-control" in [r["code"] for r in metrics["risks"]]
    watchdog = jobs["check_heartbeats"]
    assert watchdog["callable"] == "gateway.watchdog:watchdog.check_heartbeats"
    assert watchdog["started_by"] == "thread"
    gc = jobs["gc_loop"]
    assert gc["function"] is None and gc["schedule"]["seconds"] == 120
    assert any("inline" in reason for reason in gc["needs_review"])
    clock = jobs["ntp_sync"]
    assert clock["schedule"] == {"type": "unknown", "expression": "get_sync_interval()"}
    assert clock["needs_review"]


# -- one shape per case -------------------------------------------------------------------

SHAPES = {
    "thread_time_sleep": (
        """
        import threading, time
        def job(): ...
        def loop():
            while True:
                job()
                time.sleep(6 * 60 * 60)
        threading.Thread(target=loop, daemon=True).start()
        """,
        ("thread", {"type": "interval", "seconds": 21600}),
    ),
    "task_asyncio_sleep_first": (
        """
        import asyncio
        async def job(): ...
        async def loop(every: int = 30):
            while True:
                await asyncio.sleep(every)
                await job()
        async def startup():
            asyncio.create_task(loop(every=90))
        """,
        ("task", {"type": "interval", "seconds": 90}),
    ),
    "three_calls_away": (
        """
        import threading, time
        def job(): ...
        def c():
            while True:
                job()
                time.sleep(5)
        def b(): c()
        def a(): b()
        def target(): a()
        threading.Thread(target=target).start()
        """,
        ("thread", {"type": "interval", "seconds": 5}),
    ),
    "event_wait_in_test": (
        """
        import threading
        STOP = threading.Event()
        def job(): ...
        def loop():
            while not STOP.wait(timedelta(minutes=2).total_seconds()):
                job()
        def start():
            t = threading.Thread(target=loop)
            t.start()
        from datetime import timedelta
        """,
        ("thread", {"type": "interval", "seconds": 120}),
    ),
    "worker_script": (
        """
        import time
        def job(): ...
        def main():
            while True:
                job()
                time.sleep(15 * 60)
        if __name__ == "__main__":
            main()
        """,
        ("script", {"type": "interval", "seconds": 900}),
    ),
    "schedule_every_hour_at": (
        """
        import schedule
        def job(): ...
        schedule.every().hour.at(":15").do(job)
        """,
        ("schedule", {"type": "cron", "minute": "15"}),
    ),
    "schedule_repeat_decorator": (
        """
        from schedule import every, repeat
        @repeat(every(10).minutes)
        def job(): ...
        """,
        ("schedule", {"type": "interval", "seconds": 600}),
    ),
    "aps_cron_weekdays": (
        """
        from apscheduler.schedulers.background import BackgroundScheduler
        def job(): ...
        sched = BackgroundScheduler()
        sched.add_job(job, trigger="cron", day_of_week="0-4", hour=8)
        """,
        ("apscheduler", {"type": "cron", "minute": "0", "hour": "8", "day_of_week": "mon-fri"}),
    ),
    "aps_from_crontab": (
        """
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger
        def job(): ...
        sched = BackgroundScheduler()
        sched.add_job(job, CronTrigger.from_crontab("*/10 * * * *"))
        """,
        ("apscheduler", {"type": "cron", "minute": "*/10"}),
    ),
    "repeat_every": (
        """
        from fastapi_utils.tasks import repeat_every
        @app.on_event("startup")
        @repeat_every(seconds=60 * 5)
        def job(): ...
        """,
        ("task", {"type": "interval", "seconds": 300}),
    ),
}


@pytest.mark.parametrize("case", sorted(SHAPES))
def test_each_periodic_shape_is_found(case: str, project) -> None:
    source, (started_by, schedule) = SHAPES[case]
    root = project({"app/jobs.py": source}, pyproject="")
    (job,) = _jobs(root).values()
    assert job["started_by"] == started_by
    assert job["function"] == "app.jobs.job"
    got = {k: v for k, v in job["schedule"].items() if k != "expression" and v != "*"}
    assert got == schedule


SILENT = {
    "retry_sleeps_only_after_a_failure": """
        import threading, time, requests
        def fetch():
            while True:
                try:
                    return requests.get("http://x")
                except requests.RequestException:
                    time.sleep(2)
        threading.Thread(target=fetch).start()
        """,
    "bounded_retry_loop": """
        import threading, time
        def send(): ...
        def deliver():
            attempts = 0
            while attempts < 5:
                send()
                attempts += 1
                time.sleep(3)
        threading.Thread(target=deliver).start()
        """,
    "polling_wait_inside_a_request": """
        import asyncio
        from fastapi import APIRouter
        router = APIRouter()
        @router.get("/jobs/{job_id}/wait")
        async def wait(job_id: str):
            while True:
                job = await load(job_id)
                if job.done:
                    return job
                await asyncio.sleep(1)
        """,
    "sse_heartbeat": """
        import asyncio
        async def stream(request):
            while True:
                yield {"event": "ping"}
                await asyncio.sleep(15)
        async def events(request):
            asyncio.create_task(consume(stream(request)))
        """,
    "websocket_keepalive": """
        import asyncio
        async def keepalive(ws):
            while True:
                await asyncio.sleep(20)
                await ws.send_json({"type": "ping"})
        @app.websocket("/ws")
        async def ws_endpoint(websocket):
            asyncio.create_task(keepalive(websocket))
        """,
    "queue_consumer": """
        import queue, threading, time
        q = queue.Queue()
        def worker():
            while True:
                item = q.get()
                handle(item)
                time.sleep(0.1)
        threading.Thread(target=worker, daemon=True).start()
        """,
    "asyncio_queue_consumer": """
        import asyncio
        async def consume(q: asyncio.Queue):
            while True:
                job = await q.get()
                await run(job)
                await asyncio.sleep(0)
        async def startup():
            asyncio.create_task(consume(QUEUE))
        """,
    "redis_blpop_consumer": """
        import threading, time
        def listen(r):
            while True:
                item = r.blpop("jobs", timeout=5)
                handle(item)
                time.sleep(1)
        threading.Thread(target=listen, args=(redis_client,)).start()
        """,
    "loop_never_started": """
        import time
        def job(): ...
        def loop():
            while True:
                job()
                time.sleep(60)
        """,
    "aps_one_off_date_job": """
        from apscheduler.schedulers.background import BackgroundScheduler
        sched = BackgroundScheduler()
        def job(): ...
        sched.add_job(job, "date", run_date="2030-01-01 00:00:00")
        """,
    "wait_until_a_condition_holds": """
        import threading, time
        def wait_ready(check):
            ready = False
            while not ready:
                ready = check()
                time.sleep(0.5)
        threading.Thread(target=wait_ready, args=(probe,)).start()
        """,
    "a_servers_main_loop_is_not_a_job_per_instance": """
        import asyncio
        class Server:
            def __init__(self, config):
                self.config = config
                self.should_exit = False
            async def main_loop(self):
                while not self.should_exit:
                    await self.on_tick()
                    await asyncio.sleep(0.1)
        server = Server(config)
        """,
    "a_schedulers_own_add_job": """
        from apscheduler.schedulers.base import BaseScheduler
        class MyScheduler(BaseScheduler):
            def every_minute(self, func):
                self.add_job(func, "interval", minutes=1)
        """,
    "for_loop_with_sleep": """
        import threading, time
        def job(i): ...
        def batch():
            for i in range(10):
                job(i)
                time.sleep(1)
        threading.Thread(target=batch).start()
        """,
}


@pytest.mark.parametrize("case", sorted(SILENT))
def test_look_alike_stays_silent(case: str, project) -> None:
    root = project({"app/jobs.py": SILENT[case]}, pyproject="")
    assert _jobs(root) == {}


def test_an_interval_scan_cannot_resolve_is_reported_with_its_expression(project) -> None:
    root = project(
        {
            "app/jobs.py": """
            import threading, time
            def job(): ...
            def loop(interval):
                while True:
                    job()
                    time.sleep(interval)
            def start(cfg):
                threading.Thread(target=loop, args=(cfg.interval,)).start()
            """
        },
        pyproject="",
    )
    (job,) = _jobs(root).values()
    assert job["schedule"] == {"type": "unknown", "expression": "interval"}
    assert job["needs_review"] == ["the interval 'interval' cannot be resolved statically"]


def test_a_loop_four_calls_away_is_beyond_reach(project) -> None:
    source = SHAPES["three_calls_away"][0].replace(
        "def target(): a()", "def z(): a()\n        def target(): z()"
    )
    root = project({"app/jobs.py": source}, pyproject="")
    assert _jobs(root) == {}


def test_a_mapped_function_names_its_existing_task(project) -> None:
    root = project({"app/jobs.py": SHAPES["thread_time_sleep"][0]}, pyproject="")
    config = MigrateConfig.from_mappings(periodic={"app.jobs.job": "app.tasks.nightly_job"})
    (job,) = _jobs(root, config).values()
    assert job["target"] == "app.tasks.nightly_job"


def test_chinese_comments_crlf_and_bom_keep_lines_and_columns(project) -> None:
    root = project({}, pyproject="")
    source = textwrap.dedent(SHAPES["thread_time_sleep"][0]).replace(
        "    while True:", "    # 每六小时清理一次\n    while True:"
    )
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_bytes(b"")
    (root / "app" / "jobs.py").write_bytes(b"\xef\xbb\xbf" + source.replace("\n", "\r\n").encode())
    (job,) = _jobs(root).values()
    assert (job["line"], job["col"]) == (6, 5)
    assert job["start"]["line"] == 9


def test_the_text_filter_keeps_every_shape_and_drops_plain_modules() -> None:
    for source, _ in SHAPES.values():
        assert may_hold_periodic(source.encode())
    assert not may_hold_periodic(b"def add(a, b):\n    return a + b\n")


def test_scan_text_lists_periodic_jobs(project, capsys) -> None:
    from queue2celery.cli import main

    root = project({"app/jobs.py": SHAPES["thread_time_sleep"][0]}, pyproject="")
    assert main(["scan", str(root), "-j", "1"]) == 0
    out = capsys.readouterr().out
    assert "app/jobs.py:5:5: periodic job every 21600s app.jobs.job [thread]" in out
    assert "    started at app/jobs.py:8: threading.Thread(target=loop, daemon=True).start()" in out
    assert "1 periodic job(s)" in out.rstrip().splitlines()[-1]
