from __future__ import annotations

import datetime
import uuid
from collections import OrderedDict

import pytest

from queue2celery.parity import describe, fingerprint, first_difference

SAME = [
    pytest.param({"a": [1, 2.5, None, True]}, id="plain-json"),
    pytest.param({"at": datetime.datetime(2024, 1, 1), "id": uuid.UUID(int=1)}, id="datetime-uuid"),
    pytest.param({"标题": "视频"}, id="chinese"),
    pytest.param("x" * 10_000, id="large-string"),
    pytest.param(list(range(5_000)), id="large-list"),
    pytest.param({"s": {3, 1, 2}}, id="set-order-free"),
]


@pytest.mark.parametrize("value", SAME)
def test_equal_values_have_no_difference(value: object) -> None:
    assert first_difference(fingerprint(value), fingerprint(value)) is None


DIFFERENT = [
    pytest.param({"coords": (1, 2)}, {"coords": [1, 2]}, 'payload["coords"]', "type", id="tuple"),
    pytest.param({1: "a"}, {"1": "a"}, "payload", "key_type", id="int-key"),
    pytest.param(
        {"at": datetime.datetime(2024, 1, 1)},
        {"at": "2024-01-01T00:00:00"},
        'payload["at"]',
        "type",
        id="datetime-vs-str",
    ),
    pytest.param([1, 2], [1, 2, 3], "payload", "length", id="length"),
    pytest.param({"a": 1}, {}, 'payload["a"]', "missing_key", id="missing-key"),
    pytest.param({}, {"b": 1}, 'payload["b"]', "extra_key", id="extra-key"),
    pytest.param("x" * 1000, "x" * 999 + "y", "payload", "value", id="large-string-value"),
    pytest.param([[1, (2,)]], [[1, [2]]], "payload[0][1]", "type", id="nested-tuple"),
    pytest.param(True, 1, "payload", "type", id="bool-vs-int"),
    pytest.param(OrderedDict(a=1), {"a": 1}, "payload", "type", id="ordereddict-vs-dict"),
]


@pytest.mark.parametrize(("legacy", "celery", "path", "reason"), DIFFERENT)
def test_first_difference_names_the_path_and_reason(
    legacy: object, celery: object, path: str, reason: str
) -> None:
    found = first_difference(fingerprint(legacy), fingerprint(celery))
    assert found is not None
    assert (found.path, found.reason) == (path, reason)


def test_fingerprint_survives_cycles_and_unprintable_depth() -> None:
    loop: list[object] = []
    loop.append(loop)
    assert fingerprint(loop)["v"][0]["v"] == "<cycle>"
    deep: list[object] = []
    node = deep
    for _ in range(100):
        node.append([])
        node = node[0]  # type: ignore[assignment]
    assert "too deep" in describe(fingerprint(deep), limit=10_000)


def test_describe_reads_like_python() -> None:
    value = {"coords": (1, 2), 1: [None, b"ab"], "when": datetime.date(2024, 5, 1)}
    assert describe(fingerprint(value), limit=200) == (
        "{'coords': (1, 2), 1: [None, b'ab'], 'when': date(2024-05-01)}"
    )


def test_a_dataclass_is_compared_field_by_field_with_an_attribute_path() -> None:
    from dataclasses import dataclass

    from queue2celery.parity import differences

    @dataclass
    class Clip:
        path: str
        size: object

    diffs = differences(fingerprint(Clip("a", (1, 2))), fingerprint(Clip("a", [1, 2])))
    assert [(d.path, d.reason) for d in diffs] == [("payload.size", "type")]
    assert fingerprint(Clip("a", 1)) == fingerprint(Clip("a", 1))


def test_every_differing_key_of_observe_is_reported_not_only_the_first() -> None:
    from queue2celery.parity._calls import BackendRun
    from queue2celery.parity._compare import compare_runs

    legacy = BackendRun("legacy", observed=fingerprint({"a": 1, "b": {"x": 1, "y": 2}, "c": 3}))
    celery = BackendRun("celery", observed=fingerprint({"a": 1, "b": {"x": 9, "y": 8}, "c": 4}))
    found = compare_runs(legacy, celery, timeout=1)
    assert [m.kind for m in found] == ["observed_state"] * 3
    assert [m.detail.split(" ")[0] for m in found] == [
        'observe()["b"]["x"]',
        'observe()["b"]["y"]',
        'observe()["c"]',
    ]


def test_a_changed_key_type_is_one_difference_not_also_an_extra_key() -> None:
    from queue2celery.parity import differences

    diffs = differences(fingerprint({1: "a"}), fingerprint({"1": "a"}))
    assert [d.reason for d in diffs] == ["key_type"]
