"""The leased Redis transport without a worker: selection, the claim, the sweep.

Each broker test runs on the embedded fakeredis server and on the real Redis (with keys
of its own). Workers killed at random moments are in tests/reliability/test_kill_random.py,
leases under real workers in tests/reliability/test_orphan_recovery.py.
"""

from __future__ import annotations

import json
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from kombu import Connection
from kombu.transport import redis as kombu_redis

from queue2celery.celery_tasks import make_celery_app
from queue2celery.celery_tasks._lease import lease_keys
from queue2celery.celery_tasks._transport import Channel, Transport, lease_settings
from queue2celery.celery_tasks.app import DEFAULT_LEASE_TIMEOUT, LEASED_TRANSPORT
from queue2celery.celery_tasks.leases import lease_owners, where_is
from queue2celery.errors import ConfigError


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://localhost:6380/0?ssl_cert_reqs=required",
        "redis://:pw@h1:6379/0;redis://:pw@h2:6379/0",
    ],
)
def test_redis_brokers_get_the_leased_transport(url: str) -> None:
    conf = make_celery_app(broker_url=url).conf
    assert conf.broker_transport == LEASED_TRANSPORT
    assert conf.broker_transport_options["lease_timeout"] == DEFAULT_LEASE_TIMEOUT
    with make_celery_app(broker_url=url).connection_for_write() as conn:
        assert conn.transport_cls == LEASED_TRANSPORT


@pytest.mark.parametrize(
    "url", ["sentinel://localhost:26379", "memory://", "amqp://guest@localhost//"]
)
def test_other_brokers_keep_their_own_transport(url: str) -> None:
    assert make_celery_app(broker_url=url).conf.broker_transport is None


def test_an_explicit_broker_transport_wins() -> None:
    conf = make_celery_app(broker_url="redis://localhost/0", broker_transport="redis").conf
    assert conf.broker_transport == "redis"


def test_rediss_without_certificate_options_keeps_kombus_tls_default() -> None:
    app = make_celery_app(broker_url="rediss://localhost:6380/0")
    assert app.conf.broker_use_ssl == {"ssl_cert_reqs": ssl.CERT_NONE}
    with app.connection_for_write() as conn:
        assert conn.ssl == {"ssl_cert_reqs": ssl.CERT_NONE}


@pytest.fixture
def isolated(broker_url: str) -> Iterator[tuple[str, dict[str, Any], redis.Redis]]:
    """(broker url, transport options with keys of this test's own, a plain client)."""
    name = f"q2ctransport-{uuid.uuid4().hex[:8]}"
    options = {
        "unacked_key": f"{name}:unacked",
        "unacked_index_key": f"{name}:unacked_index",
        "unacked_mutex_key": f"{name}:unacked_mutex",
        "lease_timeout": 120,
        "lease_interval": 60,  # the tests call the sweep themselves
    }
    client = redis.Redis.from_url(broker_url)
    yield broker_url, {"name": name, **options}, client
    keys = list(client.scan_iter(match=f"*{name}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _app(url: str, options: dict[str, Any], **extra: Any) -> Any:
    opts = {k: v for k, v in options.items() if k != "name"}
    opts.update(extra.pop("transport_options", {}))
    app = make_celery_app(
        options["name"],
        broker_url=url,
        result_backend=url,
        task_default_queue=options["name"],
        broker_transport_options=opts,
        **extra,
    )

    @app.task(name=f"{options['name']}.t", shared=False)
    def t(x: Any) -> Any:
        return x

    return app, t


def _consuming_channel(conn: Connection, queue: str) -> Channel:
    channel = conn.default_channel
    assert isinstance(channel, Channel)
    channel.basic_consume(queue, False, lambda m: None, "tag-" + queue)
    return channel


def test_a_claimed_message_is_in_kombus_unacked_format_and_stock_kombu_restores_it(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, task = _app(url, options)
    task.delay({"ids": [], "中文": (1, 2)})
    raw = client.lrange(options["name"], 0, -1)[0]
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        message = channel.basic_get(options["name"])
        assert message is not None and message.payload[0] == [{"ids": [], "中文": [1, 2]}]
        tag = message.delivery_tag
        assert client.llen(options["name"]) == 0
        entry = json.loads(client.hget(options["unacked_key"], tag))
        # kombu's own record: [message, exchange, routing key], the message untouched.
        assert entry == [json.loads(raw), "", options["name"]]
        assert client.zscore(options["unacked_index_key"], tag) is not None
        assert client.zscore(lease_keys(options["unacked_key"]).lease_index, tag) is not None
        # A stock kombu worker on the same broker restores it like one of its own.
        with Connection(url, transport="redis", transport_options={
            k: v for k, v in options.items() if k.startswith("unacked")
        }) as stock:
            stock.default_channel.qos.restore_by_tag(tag)
        assert client.hlen(options["unacked_key"]) == 0
        back = json.loads(client.lrange(options["name"], 0, -1)[0])
        assert back["properties"]["delivery_tag"] == tag
        assert back["headers"]["redelivered"] is True
    app.close()


def test_an_ack_removes_the_unacked_entry_and_the_lease(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, task = _app(url, options)
    task.delay(1)
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        message = channel.basic_get(options["name"])
        message.ack()
    keys = lease_keys(options["unacked_key"])
    assert client.hlen(options["unacked_key"]) == 0
    assert client.zcard(options["unacked_index_key"]) == 0
    assert client.zcard(keys.lease_index) == 0
    app.close()


def test_the_claim_takes_the_highest_priority_first(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, task = _app(url, options)
    for priority in (9, 6, 0, 3):
        task.apply_async((priority,), priority=priority)
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        order = [channel.basic_get(options["name"]).payload[0][0] for _ in range(4)]
        assert channel.basic_get(options["name"]) is None
    assert order == [0, 3, 6, 9]  # Celery on Redis: 0 is the highest priority
    app.close()


def test_global_keyprefix_is_honoured_by_the_claim_and_the_leases(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    prefix = f"{options['name']}-pfx:"
    app, task = _app(url, options, transport_options={"global_keyprefix": prefix})
    task.delay("x")
    assert client.llen(prefix + options["name"]) == 1
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        message = channel.basic_get(options["name"])
        assert message.payload[0] == ["x"]
        keys = lease_keys(options["unacked_key"])
        assert client.hexists(prefix + options["unacked_key"], message.delivery_tag)
        assert client.zscore(prefix + keys.lease_index, message.delivery_tag) is not None
        assert client.zscore(prefix + keys.workers, channel.worker_id) is not None
        assert not client.exists(options["unacked_key"])
        message.ack()
        assert client.zcard(prefix + keys.lease_index) == 0
    app.close()


def test_a_message_without_a_delivery_tag_is_kept_aside_not_dropped(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, _task = _app(url, options)
    client.lpush(options["name"], b"not json at all")
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        assert channel.basic_get(options["name"]) is None
    dead = lease_keys(options["unacked_key"]).dead_letter
    assert client.lrange(dead, 0, -1) == [b"not json at all"]
    app.close()


def test_the_sweep_puts_back_what_a_silent_worker_held(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, task = _app(url, options)
    keys = lease_keys(options["unacked_key"])
    ids = {task.delay("held").id, task.delay("fetched").id}
    with app.connection_for_write() as dead_conn:
        dead = _consuming_channel(dead_conn, options["name"])
        held = dead.basic_get(options["name"])
        assert held.payload[0] == ["held"]
        # What a worker killed between its blocking fetch and its claim leaves behind.
        fetch = dead._fetch_list(options["name"])
        client.rpoplpush(options["name"], fetch)
        assert client.llen(options["name"]) == 0
        # The worker goes silent: its heartbeat thread stops, nothing is released.
        dead._keeper._stop.set()
        client.zadd(keys.workers, {dead.worker_id: 0})
        client.zadd(keys.lease_index, {held.delivery_tag: 0})
        with app.connection_for_write() as live_conn:
            live = _consuming_channel(live_conn, options["name"])
            assert live._keeper.sweep(live._create_client()) == 2
            assert live_conn.default_channel is live
        back = {json.loads(m)["headers"]["id"] for m in client.lrange(options["name"], 0, -1)}
        assert back == ids
        assert client.hlen(options["unacked_key"]) == 0
        assert client.zcard(keys.lease_index) == 0
        assert client.zscore(keys.workers, dead.worker_id) is None
        dead._keeper = None  # closing it must not touch what the sweep put back
    app.close()


def test_a_live_lease_is_renewed_and_not_swept(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, task = _app(url, options)
    keys = lease_keys(options["unacked_key"])
    task.delay("running")
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        message = channel.basic_get(options["name"])
        client.zadd(keys.lease_index, {message.delivery_tag: 0})
        client.zadd(options["unacked_index_key"], {message.delivery_tag: 0})
        sweeper = channel._create_client()
        channel._keeper.beat(sweeper)
        assert channel._keeper.sweep(sweeper) == 0
        assert client.hexists(options["unacked_key"], message.delivery_tag)
        assert client.zscore(options["unacked_index_key"], message.delivery_tag) > 0
        message.ack()
    app.close()


def test_a_lease_renewed_between_the_sweeps_read_and_its_restore_keeps_its_message(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    """The holder was only slow: its beat lands after the sweep read the expired lease and
    before the restore. The message must stay with it (restoring it would run it twice)."""
    url, options, client = isolated
    app, task = _app(url, options)
    keys = lease_keys(options["unacked_key"])
    task.delay("slow")
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        message = channel.basic_get(options["name"])
        keeper = channel._keeper
        client.zadd(keys.lease_index, {message.delivery_tag: 0})  # looks expired
        sweeper = channel._create_client()
        restore = keeper._restore_by_tag
        beats_before = keeper.beats

        def beat_then_restore(tag: str, c: Any, cutoff: float) -> bool:
            keeper.beat(sweeper)  # the holder's heartbeat, between the read and the restore
            return restore(tag, c, cutoff)

        keeper._restore_by_tag = beat_then_restore
        assert keeper.sweep(sweeper) == 0
        assert keeper.beats == beats_before + 1
        assert client.llen(options["name"]) == 0  # not sent again
        assert client.hexists(options["unacked_key"], message.delivery_tag)
        assert client.zscore(keys.lease_index, message.delivery_tag) > 0
        # Once the lease really is older than the cut-off, the same restore puts it back.
        keeper._restore_by_tag = restore
        client.zadd(keys.lease_index, {message.delivery_tag: 0})
        assert restore(message.delivery_tag, sweeper, 1.0) is True
        assert client.llen(options["name"]) == 1
        assert not client.hexists(options["unacked_key"], message.delivery_tag)
        assert client.zscore(keys.lease_index, message.delivery_tag) is None
        channel._keeper = None
    app.close()


def test_the_transport_class_is_kombus_redis_transport() -> None:
    assert issubclass(Transport, kombu_redis.Transport)
    assert Transport.Channel is Channel


def test_where_is_names_the_worker_holding_a_task_and_lease_owners_lists_it(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    url, options, client = isolated
    app, task = _app(url, options)
    held_id = task.delay("held").id
    queued_id = task.delay("queued").id
    unacked = {k: options[k] for k in ("unacked_key", "unacked_index_key")}
    with app.connection_for_write() as conn:
        channel = _consuming_channel(conn, options["name"])
        message = channel.basic_get(options["name"])
        assert message.headers["id"] == held_id
        held = where_is(client, held_id, **unacked)
        assert held is not None
        assert (held.state, held.worker, held.delivery_tag) == (
            "unacked", channel.worker_id, message.delivery_tag
        )
        assert held.worker_alive is True and held.since is not None
        assert where_is(client, queued_id, **unacked) is None
        owners = lease_owners(client, unacked_key=options["unacked_key"])
        assert [o.worker for o in owners] == [channel.worker_id] and owners[0].alive
        message.ack()
        assert where_is(client, held_id, **unacked) is None
    assert lease_owners(client, unacked_key=options["unacked_key"]) == []  # left on close
    app.close()


def test_after_a_gap_in_its_own_beats_a_worker_waits_a_lease_timeout_before_sweeping(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    """A frozen Redis or a stopped process: the others have not renewed yet either."""
    url, options, client = isolated
    app, _task = _app(url, options)
    with app.connection_for_write() as conn:
        keeper = _consuming_channel(conn, options["name"])._keeper
        assert keeper is not None
        sweeper = conn.default_channel._create_client()
        now = keeper.beat(sweeper)
        assert keeper._sweep_from <= now  # steady beats: the sweep may run
        keeper._last_beat = now - 10 * keeper.timeout  # as if nothing got through for long
        now = keeper.beat(sweeper)
        assert keeper._sweep_from == pytest.approx(now + keeper.timeout)
    app.close()


@pytest.mark.parametrize(
    ("timeout", "interval"),
    [(0, None), (-5, None), ("soon", None), (3, 2), (float("inf"), None), (None, None)],
)
def test_an_unusable_lease_timeout_is_a_config_error(timeout: Any, interval: Any) -> None:
    with pytest.raises(ConfigError, match="lease_timeout=") as excinfo:
        lease_settings(timeout, interval)
    assert "\n" not in str(excinfo.value)


def test_lease_settings_default_to_a_sixth_of_the_timeout_at_most_5_s() -> None:
    assert lease_settings(30) == (30.0, 5.0)
    assert lease_settings(3) == (3.0, 0.5)
    assert lease_settings(120) == (120.0, 5.0)
    assert lease_settings(3, 0.5) == (3.0, 0.5)


def test_a_no_ack_consumer_leaves_no_unacked_record_behind(
    isolated: tuple[str, dict[str, Any], redis.Redis],
) -> None:
    """Celery's control replies are consumed with no_ack: they must not come back later."""
    url, options, client = isolated
    app, task = _app(url, options)
    task.delay("once")
    task.delay("twice")
    received: list[Any] = []
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.basic_consume(options["name"], True, received.append, "no-ack")
        conn.drain_events(timeout=5)
        assert channel.basic_get(options["name"], no_ack=True) is not None
    assert len(received) == 1
    assert client.hlen(options["unacked_key"]) == 0
    assert client.zcard(lease_keys(options["unacked_key"]).lease_index) == 0
    app.close()
