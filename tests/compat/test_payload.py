"""Payloads: exact errors where Celery refuses, warnings (or strict errors) where it changes."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from decimal import Decimal

import pytest
from celery.utils.saferepr import saferepr
from hypothesis import given, settings
from hypothesis import strategies as st

from queue2celery.compat import CompatQueue, Rollout, drift
from queue2celery.compat._argsrepr import argsrepr
from queue2celery.errors import PayloadError


def _compat(stack, **kwargs) -> CompatQueue:
    kwargs.setdefault("rollout", Rollout.all_celery())
    kwargs.setdefault("namespace", stack.name)
    return CompatQueue(stack.module.task_queue, stack.module.app, **kwargs)


REFUSED = [
    pytest.param({"files": ["a", {"b"}]}, 'payload["v"]["files"][1]', "set", id="set-in-list"),
    pytest.param({"tags": frozenset({1})}, 'payload["v"]["tags"]', "frozenset", id="frozenset"),
    pytest.param({"ttl": dt.timedelta(1)}, 'payload["v"]["ttl"]', "timedelta", id="timedelta"),
    pytest.param({"cb": lambda x: x}, 'payload["v"]["cb"]', "function", id="lambda"),
    pytest.param([object()], 'payload["v"][0]', "object", id="object"),
    pytest.param(
        {(1, 2): "pair"}, 'payload["v"][(1, 2)]', "dict key (1, 2) (tuple)", id="tuple-key"
    ),
]


@pytest.mark.worker
@pytest.mark.parametrize(("value", "path", "type_name"), REFUSED)
def test_refused_payloads_name_their_path_and_enqueue_nothing(
    compat_stack, value, path, type_name
) -> None:
    cq = _compat(compat_stack)
    try:
        with pytest.raises(PayloadError) as info:
            cq.put(compat_stack.item("echo", v=value))
        assert info.value.path == path
        message = str(info.value)
        assert message.startswith(f"{path}: ")
        assert f"{type_name} is not JSON serializable" in message
        assert "nothing was enqueued" in message
        assert cq.celery_qsize() == 0
    finally:
        cq.close()


def test_the_message_reads_like_the_documented_example() -> None:
    from kombu.exceptions import EncodeError

    from queue2celery.compat.payload import encode, unserializable

    item = {"files": ["a.mp4", {"b.mp4"}]}
    with pytest.raises(EncodeError) as refused:
        encode(([item], {}, {}), "json")
    error = unserializable(item, "json", refused.value)
    assert str(error).startswith('payload["files"][1]: set is not JSON serializable')


CARRIED = [
    pytest.param(dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc), "datetime", id="dt"),
    pytest.param(dt.date(2024, 5, 1), "date", id="date"),
    pytest.param(uuid.UUID("12345678-1234-5678-1234-567812345678"), "UUID", id="uuid"),
    pytest.param(Decimal("1.10"), "Decimal", id="decimal"),
    pytest.param(b"raw bytes", "bytes", id="bytes"),
]


@pytest.mark.worker
@pytest.mark.parametrize(("value", "type_name"), CARRIED)
def test_values_kombu_carries_pass_and_arrive_as_themselves(
    compat_stack, value, type_name, caplog
) -> None:
    cq = _compat(compat_stack, strict=True)
    try:
        with caplog.at_level(logging.WARNING, logger="queue2celery.compat"):
            status = cq.put(compat_stack.item("types", v=value)).wait(timeout=30)
        assert status["result"] == {"type": type_name}
        assert not [r for r in caplog.records if "arrives" in r.getMessage()]
    finally:
        cq.close()


@pytest.mark.worker
def test_drift_passes_with_one_warning_per_task_and_the_handler_sees_the_change(
    compat_stack, caplog
) -> None:
    cq = _compat(compat_stack)
    try:
        with caplog.at_level(logging.WARNING, logger="queue2celery.compat"):
            first = cq.put(compat_stack.item("types", v=(1, 2)))
            second = cq.put(compat_stack.item("types", v=(3, 4)))
            keys = cq.put(compat_stack.item("types", v={1: "a", 2: "b"}))
        assert first.wait(timeout=30)["result"] == {"type": "list"}
        assert second.wait(timeout=30)["result"] == {"type": "list"}
        assert keys.wait(timeout=30)["result"] == {"type": "dict", "keys": ["str", "str"]}
        warnings = [r.getMessage() for r in caplog.records if "arrives" in r.getMessage()]
        assert len(warnings) == 1
        assert 'payload["v"]: tuple arrives as a list' in warnings[0]
    finally:
        cq.close()


@pytest.mark.worker
@pytest.mark.parametrize(
    ("value", "path", "change"),
    [
        pytest.param((1, 2), 'payload["v"]', "tuple arrives as a list", id="tuple"),
        pytest.param({1: "a"}, 'payload["v"][1]', "arrives as the string '1'", id="int-key"),
        pytest.param([[1, (2,)]], 'payload["v"][0][1]', "tuple arrives", id="nested"),
    ],
)
def test_strict_mode_turns_drift_into_payload_errors(compat_stack, value, path, change) -> None:
    cq = _compat(compat_stack, strict=True)
    try:
        with pytest.raises(PayloadError) as info:
            cq.put(compat_stack.item("echo", v=value))
        assert info.value.path == path
        assert change in str(info.value)
        assert cq.celery_qsize() == 0
    finally:
        cq.close()


@pytest.mark.worker
def test_q2c_strict_is_read_when_the_queue_is_built(compat_stack, monkeypatch) -> None:
    monkeypatch.setenv("Q2C_STRICT", "1")
    cq = _compat(compat_stack)
    monkeypatch.delenv("Q2C_STRICT")
    try:
        assert cq.strict
        with pytest.raises(PayloadError):
            cq.put(compat_stack.item("echo", v=(1,)))
    finally:
        cq.close()


def test_drift_walk_is_cheap_for_everyday_payloads() -> None:
    import time

    item = {"user_id": 1, "files": ["a", "b"], "opts": {"q": "hd", "n": 3, "tags": ["x"]}}
    started = time.perf_counter()
    for _ in range(10_000):
        assert drift(item) is None
    per_call = (time.perf_counter() - started) / 10_000
    # Generous bound for a loaded 2-core machine; typically ~2 µs.
    assert per_call < 50e-6


_plain = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(_plain)
def test_fast_argsrepr_equals_celerys_saferepr(value) -> None:
    assert argsrepr([value], 1024, 3) == saferepr([value], 1024, maxlevels=3)
