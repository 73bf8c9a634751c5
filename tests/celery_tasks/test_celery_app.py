from __future__ import annotations

import pickle

import pytest
import redis
from kombu.exceptions import ContentDisallowed, DecodeError

from queue2celery.celery_tasks import (
    DEFAULT_REDIS_URL,
    CeleryConfig,
    celery_status,
    make_celery_app,
)
from queue2celery.celery_tasks.app import DEFAULT_VISIBILITY_TIMEOUT, ensure_visibility_timeout

ENV_CASES = [
    pytest.param({}, DEFAULT_REDIS_URL, DEFAULT_REDIS_URL, id="nothing-set-means-localhost"),
    pytest.param({"REDIS_URL": "redis://r:6379/1"}, "redis://r:6379/1", "redis://r:6379/1",
                 id="redis-url-feeds-both"),
    pytest.param({"REDIS_URL": "redis://r/1", "CELERY_BROKER_URL": "redis://b/2"},
                 "redis://b/2", "redis://r/1", id="broker-url-wins-for-the-broker"),
    pytest.param({"REDIS_URL": "redis://r/1", "CELERY_RESULT_BACKEND": "redis://s/3"},
                 "redis://r/1", "redis://s/3", id="result-backend-wins-for-results"),
    pytest.param({"CELERY_BROKER_URL": "redis://b/2", "CELERY_RESULT_BACKEND": "redis://s/3"},
                 "redis://b/2", "redis://s/3", id="both-explicit"),
    pytest.param({"REDIS_URL": "", "CELERY_BROKER_URL": ""}, DEFAULT_REDIS_URL,
                 DEFAULT_REDIS_URL, id="empty-values-count-as-unset"),
]  # fmt: skip


@pytest.mark.parametrize(("environ", "broker", "backend"), ENV_CASES)
def test_config_from_env(environ: dict[str, str], broker: str, backend: str) -> None:
    assert CeleryConfig.from_env(environ) == CeleryConfig(broker, backend)


@pytest.mark.parametrize(("environ", "broker", "backend"), ENV_CASES)
def test_make_celery_app_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], broker: str, backend: str
) -> None:
    for name in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    app = make_celery_app()
    assert app.conf.broker_url == broker
    assert app.conf.result_backend == backend


def test_explicit_urls_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://env/0")
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://env-broker/0")
    monkeypatch.setenv("CELERY_RESULT_BACKEND", "redis://env-backend/0")
    app = make_celery_app(broker_url="redis://mine:6379/1", result_backend="redis://mine:6379/2")
    # Celery alone would let its env vars win; the connections it makes must not.
    with app.connection_for_write() as write, app.connection_for_read() as read:
        for connection in (write, read):
            assert (connection.hostname, connection.virtual_host) == ("mine", "1")
    assert app.backend.as_uri() == "redis://mine:6379/2"


def test_only_json_is_sent_or_accepted() -> None:
    conf = make_celery_app().conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.result_accept_content == ["json"]


def test_pickle_is_accepted_only_when_the_caller_overrides_it_explicitly() -> None:
    conf = make_celery_app(accept_content=["json", "pickle"]).conf
    assert conf.accept_content == ["json", "pickle"]
    assert conf.result_accept_content == ["json"]


def test_the_reliability_defaults_are_set() -> None:
    conf = make_celery_app().conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup is True
    assert conf.result_extended is True
    assert conf.task_track_started is True


def test_socket_waits_on_broker_and_backend_are_bounded() -> None:
    conf = make_celery_app().conf
    for value in (
        conf.redis_socket_timeout,
        conf.redis_socket_connect_timeout,
        conf.broker_transport_options["socket_timeout"],
        conf.broker_transport_options["socket_connect_timeout"],
        conf.broker_connection_timeout,
    ):
        assert value is not None and 0 < value <= 30


def test_transport_option_overrides_are_merged_not_replacing_the_timeouts() -> None:
    conf = make_celery_app(broker_transport_options={"global_keyprefix": "q2c-"}).conf
    assert conf.broker_transport_options["global_keyprefix"] == "q2c-"
    assert conf.broker_transport_options["socket_timeout"] is not None
    assert conf.broker_transport_options["visibility_timeout"] == DEFAULT_VISIBILITY_TIMEOUT


def test_other_overrides_win() -> None:
    conf = make_celery_app(task_acks_late=False, worker_prefetch_multiplier=4).conf
    assert conf.task_acks_late is False
    assert conf.worker_prefetch_multiplier == 4


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        pytest.param(0, DEFAULT_VISIBILITY_TIMEOUT, id="no-delay-keeps-default"),
        pytest.param(60, DEFAULT_VISIBILITY_TIMEOUT, id="short-delay-keeps-default"),
        pytest.param(3600, 4200, id="delay-of-an-hour-raises-it"),
        pytest.param(86_400.5, 87_001, id="fractional-delay-rounds-up"),
    ],
)
def test_ensure_visibility_timeout(delay: float, expected: int) -> None:
    app = make_celery_app()
    assert ensure_visibility_timeout(app, delay) == expected
    assert app.conf.broker_transport_options["visibility_timeout"] == expected
    assert ensure_visibility_timeout(app, 1) == expected  # never lowered


def test_a_pickled_result_planted_in_redis_is_refused(embedded_url: str) -> None:
    app = make_celery_app("pickle-refused", broker_url=embedded_url, result_backend=embedded_url)
    client = redis.Redis.from_url(embedded_url)
    # What an attacker with access to Redis could plant: a pickle, here a harmless one.
    payload = pickle.dumps({"status": "SUCCESS", "result": 1, "task_id": "t1"})
    key = app.backend.get_key_for_task("t1")
    client.set(key, payload)
    # The backend reads values as JSON (content type fixed); a pickle never loads.
    with pytest.raises((ContentDisallowed, DecodeError)):
        celery_status(app, "t1")
    client.close()
    app.close()
