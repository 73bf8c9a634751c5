"""``carry_types``: Celery's own JSON carries the listed payload classes (what init's tasks
module runs in every process that sends or works)."""

from __future__ import annotations

import dataclasses
import enum

import pytest
from kombu.utils.json import dumps, loads

from queue2celery.compat import carry_types
from queue2celery.errors import ConfigError


@dataclasses.dataclass
class Job:
    kind: str
    payload: dict[str, object]
    retries: int = 0


class Lane(enum.Enum):
    FAST = "fast"


@dataclasses.dataclass
class NotListed:
    name: str


class Plain:
    def __init__(self, x: int) -> None:
        self.x = x


def test_a_listed_class_crosses_celerys_json_and_arrives_as_itself() -> None:
    carry_types(Job, Lane)
    job = Job("index", {"doc_id": "文档-1", "lane": Lane.FAST}, retries=2)
    back = loads(dumps({"args": [job], "kwargs": {}}))
    assert back["args"] == [job]
    assert type(back["args"][0]) is Job
    assert back["args"][0].payload["lane"] is Lane.FAST


def test_a_class_not_listed_is_not_carried() -> None:
    carry_types(Job)
    with pytest.raises(TypeError):
        dumps({"args": [NotListed("x")]})


def test_a_class_that_cannot_cross_is_refused_with_what_can() -> None:
    with pytest.raises(ConfigError, match="only dataclasses, pydantic models"):
        carry_types(Plain)
