from __future__ import annotations

import json
import logging
import sys
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import redis
from celery import Celery
from celery.app.task import Context

from queue2celery.celery_tasks import celery_status, make_celery_app
from queue2celery.celery_tasks.status import (
    mark_app_sent,
    mark_sent,
    sent_client,
    sent_key,
    sent_ttl,
    was_sent,
)
from queue2celery.errors import ConfigError


class CardDeclined(Exception):
    pass


@pytest.fixture
def app(embedded_url: str) -> Iterator[Celery]:
    app = make_celery_app("status", broker_url=embedded_url, result_backend=embedded_url)
    yield app
    app.close()


def _request(retries: int) -> Context:
    # The request a worker passes when it stores a state (result_extended reads it).
    return Context(task="t", args=[{}], kwargs={}, retries=retries, hostname="w")


def test_the_sent_marker_key_is_namespaced() -> None:
    assert sent_key("abc") == "q2c:sent:abc"


def test_a_marked_id_was_sent_and_expires_with_the_results(app: Celery) -> None:
    client = sent_client(app)
    task_id = str(uuid.uuid4())
    assert not was_sent(client, task_id)
    mark_sent(client, task_id, ttl=sent_ttl(app))
    assert was_sent(client, task_id)
    assert 0 < client.ttl(sent_key(task_id)) <= 86_400


def test_the_marker_can_ride_in_the_senders_pipeline(app: Celery) -> None:
    client = sent_client(app)
    task_id = str(uuid.uuid4())
    with client.pipeline() as pipe:
        mark_sent(pipe, task_id, ttl=60)
        pipe.execute()
    assert was_sent(client, task_id)


def test_the_marker_ttl_follows_result_expires(app: Celery) -> None:
    app.conf.result_expires = 600
    assert sent_ttl(app) == 600
    app.conf.result_expires = None
    assert sent_ttl(app) == 86_400


def test_the_marker_needs_a_redis_result_backend() -> None:
    app = make_celery_app("no-redis", broker_url="memory://", result_backend="cache+memory://")
    with pytest.raises(ConfigError, match="Redis result backend"):
        sent_client(app)


def test_marking_after_a_send_never_raises_when_redis_is_gone(
    free_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{free_port}/0"
    app = make_celery_app("gone", broker_url=url, result_backend=url)
    with caplog.at_level(logging.WARNING):
        assert mark_app_sent(app, "t-1") is False
    assert "sent marker could not be set" in caplog.text


def test_an_unknown_id_reads_pending_with_no_attempts(app: Celery) -> None:
    assert celery_status(app, "nobody-sent-this") == {
        "task_id": "nobody-sent-this",
        "status": "PENDING",
        "result": None,
        "error": None,
        "attempts": 0,
    }


def test_a_started_task_reports_its_attempt(app: Celery) -> None:
    app.backend.store_result("t-start", {"pid": 1}, "STARTED", request=_request(retries=0))
    status = celery_status(app, "t-start")
    assert (status["status"], status["result"], status["attempts"]) == ("STARTED", None, 1)


def test_a_retrying_task_shows_the_last_error_and_the_attempts_so_far(app: Celery) -> None:
    app.backend.mark_as_retry("t-retry", ConnectionError("down"), request=_request(retries=1))
    assert celery_status(app, "t-retry") == {
        "task_id": "t-retry",
        "status": "RETRY",
        "result": None,
        "error": {"type": "ConnectionError", "message": "down"},
        "attempts": 2,
    }


def test_a_failure_shows_the_exceptions_own_type_and_message(app: Celery) -> None:
    app.backend.mark_as_failure("t-fail", CardDeclined("card 4242 declined"), request=_request(3))
    status = celery_status(app, "t-fail")
    assert status["status"] == "FAILURE"
    assert status["error"] == {"type": "CardDeclined", "message": "card 4242 declined"}
    assert status["attempts"] == 4
    assert "traceback" not in repr(status).lower()


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        pytest.param(ValueError(), "", id="no-args"),
        pytest.param(ValueError("a", 2), "('a', 2)", id="several-args"),
        pytest.param(KeyError("k"), "'k'", id="key-error-quotes-its-key"),
        pytest.param(FileNotFoundError(2, "gone"), "[Errno 2] gone", id="os-error-errno"),
        pytest.param(CardDeclined("x"), "x", id="a-class-of-this-module"),
    ],
)
def test_a_failure_message_reads_like_str_of_the_exception(
    app: Celery, exc: Exception, message: str
) -> None:
    app.backend.mark_as_failure("t-msg", exc, request=_request(0))
    assert celery_status(app, "t-msg")["error"] == {"type": type(exc).__name__, "message": message}


def test_a_revoked_task_reads_as_failure(app: Celery) -> None:
    app.backend.mark_as_revoked("t-revoked", reason="revoked by admin", request=_request(0))
    status = celery_status(app, "t-revoked")
    assert status["status"] == "FAILURE"
    assert status["error"]["type"] == "TaskRevokedError"


def test_a_success_carries_the_result(app: Celery) -> None:
    app.backend.mark_as_done("t-ok", {"值": [1, 2]}, request=_request(0))
    assert celery_status(app, "t-ok") == {
        "task_id": "t-ok",
        "status": "SUCCESS",
        "result": {"值": [1, 2]},
        "error": None,
        "attempts": 1,
    }


def test_status_is_read_from_redis_not_from_a_local_cache(app: Celery, embedded_url: str) -> None:
    app.backend.mark_as_done("t-twice", 1, request=_request(0))
    assert celery_status(app, "t-twice")["status"] == "SUCCESS"
    client = redis.Redis.from_url(embedded_url)
    client.delete(app.backend.get_key_for_task("t-twice"))
    client.close()
    assert celery_status(app, "t-twice")["status"] == "PENDING"


def _plant_failure(app: Celery, url: str, task_id: str, exc: Mapping[str, object]) -> None:
    client = redis.Redis.from_url(url)
    meta = {"status": "FAILURE", "result": exc, "traceback": "Traceback ...", "task_id": task_id}
    client.set(app.backend.get_key_for_task(task_id), json.dumps(meta))
    client.close()


def test_an_exception_class_unknown_here_keeps_its_name_and_message(
    app: Celery, embedded_url: str
) -> None:
    stored = {"exc_type": "Boom", "exc_message": ["bad"], "exc_module": "q2c_nowhere_module"}
    _plant_failure(app, embedded_url, "t-unknown", stored)
    assert celery_status(app, "t-unknown")["error"] == {"type": "Boom", "message": "bad"}
    assert "q2c_nowhere_module" not in sys.modules


def test_a_planted_non_exception_class_is_never_called(
    app: Celery, embedded_url: str, tmp_path: Path
) -> None:
    marker = tmp_path / "pwned"
    stored = {"exc_type": "system", "exc_message": [f"touch {marker}"], "exc_module": "os"}
    _plant_failure(app, embedded_url, "t-evil", stored)
    status = celery_status(app, "t-evil")
    assert status["error"] == {"type": "system", "message": f"touch {marker}"}
    assert not marker.exists()
