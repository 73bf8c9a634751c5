"""Objects as payloads: listed classes cross as themselves, anything else is refused by path."""

from __future__ import annotations

import enum
import socket
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kombu.serialization import dumps, loads
from pydantic import BaseModel

from queue2celery.compat._types import TypeEncoder
from queue2celery.errors import PayloadError
from queue2celery.legacy_queue._codec import TypeTable


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Point(NamedTuple):
    x: int
    y: int


class Order(BaseModel):
    order_id: int
    tags: list[str]


@dataclass(frozen=True)
class Owner:
    name: str


@dataclass
class Wide:
    a: int = 1
    b: str = "二"
    c: float = 3.5
    d: bool = True
    e: None = None
    f: list[int] = field(default_factory=lambda: [1, 2, 3])
    g: dict[str, int] = field(default_factory=lambda: {"k": 1})
    h: Color = Color.RED
    i: Owner = Owner("李雷")
    j: str = "x" * 40

    def __post_init__(self) -> None:
        self.j = self.j  # rebuilt objects must not run this again (it may have side effects)


@dataclass
class Unlisted:
    x: int


@dataclass
class Holder:
    value: Any


class Plain:
    pass


TYPES = [Wide, Owner, Color, Point, Order, Holder]


def _roundtrip(item: Any, types: list[Any] = TYPES) -> Any:
    table = TypeTable(types)
    wire = TypeEncoder(table, "json").encode(item)
    content_type, encoding, data = dumps(wire, serializer="json")
    return table.decode(loads(data, content_type, encoding))


@pytest.mark.parametrize(
    "item",
    [
        Wide(),
        Owner("韩梅梅"),
        Color.BLUE,
        Point(1, 2),
        Order(order_id=3, tags=["a"]),
        {"task": Wide(a=9), "owners": [Owner("a"), Owner("b")]},
    ],
    ids=["dataclass", "frozen", "enum", "namedtuple", "pydantic", "nested"],
)
def test_listed_classes_arrive_as_the_same_class_equal_field_by_field(item: Any) -> None:
    back = _roundtrip(item)
    assert back == item
    assert type(back) is type(item)


def test_a_tuple_inside_a_dataclass_field_is_left_for_the_drift_check() -> None:
    # JSON turns it into a list: the sender's drift check (and parity) report that.
    assert _roundtrip(Holder((1, 2))) == Holder([1, 2])


def test_an_unlisted_dataclass_is_refused_with_its_path_and_the_fix() -> None:
    with pytest.raises(PayloadError, match=r"payload\.value\[\"x\"\]: .*Unlisted is not in") as e:
        _roundtrip(Holder({"x": Unlisted(1)}))
    assert "types=[Unlisted" in str(e.value)
    assert e.value.path == 'payload.value["x"]'


def test_a_plain_object_is_refused_saying_to_add_it_to_types_or_convert_it() -> None:
    with pytest.raises(PayloadError, match=r"payload\[0\]: Plain .*add it to types="):
        _roundtrip([Plain()])


@pytest.mark.parametrize(
    "value",
    [threading.Lock(), print, Owner("x").__repr__, lambda: 1],
    ids=["lock", "builtin", "bound method", "lambda"],
)
def test_objects_holding_callables_or_locks_are_refused_naming_the_field(value: Any) -> None:
    with pytest.raises(PayloadError, match=r"payload\.value: .*cannot cross to a worker"):
        _roundtrip(Holder(value))


def test_sockets_and_open_files_are_refused_naming_the_field(tmp_path: Any) -> None:
    with socket.socket() as sock, pytest.raises(PayloadError, match=r"payload\.value: socket"):
        _roundtrip(Holder(sock))
    with open(tmp_path / "f.txt", "w") as fh, pytest.raises(PayloadError, match=r"payload\.value"):
        _roundtrip(Holder(fh))


def test_deep_nesting_is_a_payload_error() -> None:
    deep: Any = "leaf"
    for _ in range(150):
        deep = [deep]
    with pytest.raises(PayloadError, match="nested deeper than 100"):
        _roundtrip(deep)


def test_the_reserved_tag_key_in_a_plain_dict_is_refused() -> None:
    with pytest.raises(PayloadError, match="reserved"):
        _roundtrip({"__q2c__": "x"})


def test_a_message_naming_a_class_not_in_types_is_refused_and_nothing_is_imported() -> None:
    table = TypeTable([Owner])
    for tag in ("q2c_never_imported_mod:Evil", "os:system", f"{__name__}:Unlisted"):
        with pytest.raises(PayloadError, match="not in this queue's types.*nothing was imported"):
            table.decode({"job": {"__q2c__": tag, "name": "x"}})
    assert "q2c_never_imported_mod" not in sys.modules


def test_plain_payloads_pass_through_untouched() -> None:
    encoder = TypeEncoder(TypeTable([]), "json")
    item = {"a": [1, 2], "b": "c"}
    assert encoder.encode(item) == item
    assert TypeTable([]).decode({"__q2c__": "x"}) == {"__q2c__": "x"}


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(value=_JSONISH, name=st.text(max_size=10), color=st.sampled_from(list(Color)))
def test_any_json_value_inside_listed_objects_comes_back_equal(
    value: Any, name: str, color: Color
) -> None:
    item = {"holder": Holder([value, Owner(name)]), "color": color, "point": Point(1, 2)}
    assert _roundtrip(item) == item
