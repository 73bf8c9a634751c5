"""Issue 8.3: hostile payloads either travel exactly as kombu says, or raise PayloadError.

hypothesis builds nested payloads of JSON and non-JSON types. For each, kombu's own
``dumps``/``loads`` (the app's serializer) is the oracle: what ``put`` enqueued must decode
to what kombu gives back for the same payload, and a payload kombu refuses must raise
``PayloadError`` with nothing enqueued. ``put_many`` of a batch with one bad payload sends
nothing at all. Only the broker is needed (embedded server, no worker): messages are read
back from the queue's Redis list.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from _reliability import report
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kombu.exceptions import EncodeError
from kombu.serialization import dumps as kombu_dumps
from kombu.serialization import loads as kombu_loads

from queue2celery import embedded_redis
from queue2celery.celery_tasks import make_celery_app
from queue2celery.compat import CompatQueue, Rollout
from queue2celery.errors import PayloadError
from queue2celery.legacy_queue import TaskQueue

pytestmark = pytest.mark.reliability

NAME = "q2c-reliability-hostile"
# Q2C_HYPOTHESIS_EXAMPLES=2000 for a longer hunt (RELIABILITY.md quotes both runs).
MAX_EXAMPLES = int(os.environ.get("Q2C_HYPOTHESIS_EXAMPLES", "150"))
_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class _Thing:
    """An arbitrary object: no JSON form."""

    def __repr__(self) -> str:
        return "<_Thing>"


_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), max_size=10),  # 中文
    st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1, max_size=3),
    st.sampled_from(["'", '"', "\\", "\x00", "\r\n", "é", "😀"]),
)
_hashable = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    _text,
    st.binary(max_size=10),
    st.uuids(),
    st.dates(),
)
_leaves = st.one_of(
    _hashable,
    # Huge ints: Python refuses int -> str past 4,300 digits, so JSON cannot carry them.
    st.integers(min_value=0, max_value=5000).map(lambda n: 10**n),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())),
    st.times(),
    st.timedeltas(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.builds(_Thing),
    st.just(lambda x: x),
    st.builds(object),
)
_payloads = st.recursive(
    _leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(st.one_of(_text, st.integers()), children, max_size=4),
        st.dictionaries(st.tuples(st.integers(), _text), children, max_size=2),
        st.sets(_hashable, max_size=4),
        st.frozensets(_hashable, max_size=4),
    ),
    max_leaves=12,
)


class _Stack:
    def __init__(self, url: str, path: str) -> None:
        self.path = path
        self.client = redis.Redis.from_url(url, socket_timeout=5)
        self.app = make_celery_app(
            NAME, broker_url=url, result_backend=url, task_default_queue=NAME
        )
        if path == "apply_async":
            # Routes may depend on the arguments: CompatQueue then sends with apply_async.
            self.app.conf.task_routes = {f"{NAME}.take": {"queue": NAME}}
        self.task_queue = TaskQueue(workers=1)
        self.task_queue.add_handler(f"{NAME}.take", lambda item: None)
        self.cq = CompatQueue(
            self.task_queue,
            self.app,
            rollout=Rollout.all_celery(),
            on_broker_error="raise",
            namespace=NAME,
            strict=False,
        )
        self.serializer = str(self.app.conf.task_serializer)
        self.examples = self.sent = self.refused = 0
        self.batches = self.batches_refused = 0

    def pop(self) -> bytes:
        raw = self.client.rpop(NAME)
        assert isinstance(raw, bytes), raw
        return raw

    def llen(self) -> int:
        return int(self.client.llen(NAME))

    def oracle(self, payload: Any) -> tuple[bool, Any]:
        """(kombu accepts, what kombu's loads gives back) for ``[payload]`` as task args."""
        try:
            ctype, enc, data = kombu_dumps([payload], serializer=self.serializer)
        except EncodeError:
            return False, None
        return True, kombu_loads(data, ctype, enc)[0]

    def received(self, raw: bytes) -> Any:
        """The item inside one enqueued message, decoded the way a worker decodes it."""
        envelope = json.loads(raw)
        body = base64.b64decode(envelope["body"])
        args, _kwargs, _embed = kombu_loads(
            body, envelope["content-type"], envelope["content-encoding"]
        )
        assert len(args) == 1
        return args[0]

    def same(self, a: Any, b: Any) -> bool:
        # Through the serializer again: NaN == NaN, sNaN never compared, types kept by tags.
        return bool(
            kombu_dumps(a, serializer=self.serializer) == kombu_dumps(b, serializer=self.serializer)
        )


@pytest.fixture(scope="module", params=["fast", "apply_async"])
def stack(request: pytest.FixtureRequest) -> Iterator[_Stack]:
    """The queue on an embedded server; once on CompatQueue's fast path, once on apply_async."""
    with embedded_redis() as url:
        s = _Stack(url, request.param)
        started = time.monotonic()
        try:
            yield s
        finally:
            s.cq.close()
            s.task_queue.stop()
            s.app.close()
            s.client.close()
        report(
            {
                "test": f"hostile_payloads_{s.path}",
                "examples": s.examples,
                "enqueued": s.sent,
                "payload_errors": s.refused,
                "put_many_batches": s.batches,
                "put_many_refused": s.batches_refused,
                "seconds": round(time.monotonic() - started, 1),
            }
        )


@_SETTINGS
@given(payload=_payloads)
def test_put_enqueues_what_kombu_round_trips_or_raises_payload_error(
    stack: _Stack, payload: Any
) -> None:
    stack.examples += 1
    accepts, expected = stack.oracle(payload)
    before = stack.llen()
    try:
        handle = stack.cq.put(payload)
    except PayloadError as exc:
        stack.refused += 1
        assert stack.llen() == before, "a refused put must enqueue nothing"
        assert not accepts, f"kombu carries this payload, put refused it: {exc}"
        assert str(exc).startswith(exc.path), (exc.path, str(exc))
        return
    stack.sent += 1
    assert accepts, "put enqueued a payload kombu refuses"
    assert handle.backend == "celery"
    if stack.path == "apply_async":
        assert stack.cq.sender.blocker(stack.cq.tasks[f"{NAME}.take"]) is not None
    assert stack.llen() == before + 1
    raw = stack.pop()
    assert json.loads(raw)["headers"]["id"] == handle.id
    assert stack.same(stack.received(raw), expected)


@_SETTINGS
@given(batch=st.lists(_payloads, min_size=1, max_size=6))
def test_put_many_sends_the_whole_batch_or_nothing(stack: _Stack, batch: list[Any]) -> None:
    stack.batches += 1
    accepted = [stack.oracle(p) for p in batch]
    before = stack.llen()
    try:
        handles = stack.cq.put_many(batch)
    except PayloadError:
        stack.batches_refused += 1
        assert stack.llen() == before, "a refused put_many must enqueue none of its items"
        assert not all(ok for ok, _ in accepted)
        return
    assert all(ok for ok, _ in accepted), "put_many enqueued a payload kombu refuses"
    assert stack.llen() == before + len(batch)
    raws = [stack.pop() for _ in batch]
    # LPUSH in order, RPOP from the other end: FIFO.
    assert [json.loads(r)["headers"]["id"] for r in raws] == [h.id for h in handles]
    for raw, (_ok, expected) in zip(raws, accepted, strict=True):
        assert stack.same(stack.received(raw), expected)


def test_the_generators_cover_every_listed_type() -> None:
    # The strategies above are the claim: keep them honest about what they generate.
    seen: set[type] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(_payloads)
    def collect(payload: Any) -> None:
        stack = [payload]
        while stack:
            value = stack.pop()
            seen.add(type(value))
            if isinstance(value, dict):
                stack.extend(value.keys())
                stack.extend(value.values())
            elif isinstance(value, (list, tuple, set, frozenset)):
                stack.extend(value)

    collect()
    wanted = {
        type(None), bool, int, float, str, bytes, tuple, list, dict, set, frozenset,
        dt.datetime, dt.date, dt.time, dt.timedelta, uuid.UUID, decimal.Decimal,
    }  # fmt: skip
    assert wanted <= seen, wanted - seen
