"""A tick found due by two beats at once (a frozen leader waking next to the standby that
took its lock over) is sent once: each tick is claimed in Redis before it is sent."""

from __future__ import annotations

from datetime import timedelta

from celery import Celery
from redbeat.schedulers import RedBeatSchedulerEntry

from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks._beat_scheduler import Scheduler


def _app(url: str, name: str) -> Celery:
    app = make_celery_app(name, broker_url=url, result_backend=url, task_default_queue=name)

    @app.task(name=f"{name}.tick", shared=False)
    def tick() -> None:
        return None

    return app


def test_a_tick_two_beats_find_due_is_sent_once(embedded_url: str, unique_name: str) -> None:
    app = _app(embedded_url, unique_name)
    leader = Scheduler(app, lazy=True)  # applies queue2celery's redbeat settings to app
    standby = Scheduler(app, lazy=True)
    entry = RedBeatSchedulerEntry(
        "cleanup", f"{unique_name}.tick", timedelta(seconds=1), app=app
    ).save()
    entry.reschedule(last_run_at=entry.default_now() - timedelta(seconds=5))  # due now
    # Both loaded the entry before either sent its tick: the same previous run time.
    seen_by_leader = RedBeatSchedulerEntry.from_key(entry.key, app=app)
    seen_by_standby = RedBeatSchedulerEntry.from_key(entry.key, app=app)
    assert seen_by_leader.is_due()[0] and seen_by_standby.is_due()[0]
    client = app.connection_for_write().default_channel.client
    try:
        assert standby.apply_async(seen_by_standby) is not None
        assert leader.apply_async(seen_by_leader) is None  # claimed: not sent twice
        assert client.llen(unique_name) == 1
        # The next tick (after the run just recorded) is a new claim: it is sent.
        following = RedBeatSchedulerEntry.from_key(entry.key, app=app)
        assert following.last_run_at != seen_by_leader.last_run_at
        assert leader.apply_async(following) is not None
        assert client.llen(unique_name) == 2
    finally:
        app.close()
