"""Celery's protocol-2 task message in kombu's Redis envelope, built without the overhead.

Two builders produce the same bytes:

* ``generic``: the headers, properties and body dicts as ``app.amqp.as_task_v2`` makes them,
  the body serialized by kombu, the envelope as kombu's Redis ``Channel._put`` writes it;
* ``template``: the same JSON assembled from pre-encoded constant parts, with the item
  serialized by kombu's own JSON encoder. Used only after ``self_check`` proved it gives
  byte for byte what ``generic`` gives with this Celery and kombu.
"""

from __future__ import annotations

import json
import os
import uuid
from base64 import b64decode, b64encode
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _q
from typing import Any

from celery import Celery
from celery.utils.nodenames import anon_nodename
from kombu.exceptions import EncodeError
from kombu.serialization import registry
from kombu.utils import json as kombu_json

from ._argsrepr import argsrepr
from .payload import encode

__all__ = ["MessageBuilder", "Plan", "new_ids"]

# json.dumps' defaults, as kombu.utils.json.dumps uses them (", " and ": " separators).
_ENVELOPE_ENCODER = json.JSONEncoder()
_ITEM_ENCODER = kombu_json.JSONEncoder()
_EMBED = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}'


def new_ids(n: int) -> list[str]:
    """``n`` random version-4 UUID strings (one urandom call instead of ``n``)."""
    if n == 1:
        return [str(uuid.uuid4())]
    raw = os.urandom(16 * n).hex()
    ids = []
    for i in range(0, 32 * n, 32):
        h = raw[i : i + 32]
        variant = "89ab"[int(h[16], 16) & 3]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}")
    return ids


@dataclass
class Plan:
    """What every message of one task shares."""

    task_name: str
    queue: str
    serializer: str
    time_limit: Any
    soft_time_limit: Any
    ignore_result: bool
    sep: str
    steps: tuple[int, ...]
    template: bool = False
    parts: tuple[str, str, str] = field(default=("", "", ""))

    def key_for(self, priority: int) -> tuple[str, int]:
        """The Redis list and the clamped priority (kombu clamps to 0..9; 0 is consumed first)."""
        pri = min(max(int(priority), 0), 9)
        step = 0
        for candidate in self.steps:
            if candidate <= pri:
                step = candidate
        return (self.queue if not step else f"{self.queue}{self.sep}{step}"), pri


def _stock_kombu_json() -> bool:
    codec = registry._encoders.get("json")
    return codec is not None and codec.encoder is kombu_json.dumps


class MessageBuilder:
    """Builds the JSON string kombu's Redis transport would LPUSH for a task message."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self._maxsize = app.amqp.argsrepr_maxsize
        self._maxlevels = app.conf.task_repr_maxlevels
        self._origin_pid = -1
        self._origin_value = ""

    def origin(self) -> str:
        # as_task_v2 calls gethostname() per message; the value only changes with the pid.
        pid = os.getpid()
        if self._origin_pid != pid:
            self._origin_value = anon_nodename()
            self._origin_pid = pid
        return self._origin_value

    def _lineage(self, task_id: str) -> tuple[str, str | None]:
        parent = self.app.current_worker_task
        if parent is None:
            return task_id, None
        # What send_task does for a task sent from inside another task.
        return parent.request.root_id or parent.request.id or task_id, parent.request.id

    def build(
        self, plan: Plan, item: Any, task_id: str, priority: int, tag: str
    ) -> tuple[str, str]:
        """``(list key, message JSON)``; raises kombu's EncodeError for payloads it refuses."""
        if plan.template:
            return self.template(plan, item, task_id, priority, tag)
        return self.generic(plan, item, task_id, priority, tag)

    def generic(self, plan: Plan, item: Any, task_id: str, pri: int, tag: str) -> tuple[str, str]:
        root_id, parent_id = self._lineage(task_id)
        args = [item]
        headers: dict[str, Any] = {
            "lang": "py",
            "task": plan.task_name,
            "id": task_id,
            "shadow": None,
            "eta": None,
            "expires": None,
            "group": None,
            "group_index": None,
            "retries": 0,
            "timelimit": [plan.time_limit, plan.soft_time_limit],
            "root_id": root_id,
            "parent_id": parent_id,
            "argsrepr": argsrepr(args, self._maxsize, self._maxlevels),
            "kwargsrepr": "{}",
            "origin": self.origin(),
            "ignore_result": plan.ignore_result,
            "replaced_task_nesting": 0,
            "stamped_headers": None,
            "stamps": {},
        }
        body: tuple[Any, ...] = (
            args,
            {},
            {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
        )
        content_type, content_encoding, data = encode(body, plan.serializer)
        if isinstance(data, str):
            data = data.encode(content_encoding or "utf-8")
        key, pri = plan.key_for(pri)
        # Key order and values are those of kombu's Producer.publish + Channel.basic_publish.
        properties = {
            "correlation_id": task_id,
            "reply_to": self.app.thread_oid,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": plan.queue},
            "priority": pri,
            "body_encoding": "base64",
            "delivery_tag": tag,
        }
        envelope = {
            "body": b64encode(data).decode("ascii"),
            "content-encoding": content_encoding,
            "content-type": content_type,
            "headers": headers,
            "properties": properties,
        }
        return key, _ENVELOPE_ENCODER.encode(envelope)

    def _prepare_template(self, plan: Plan) -> None:
        head = (
            '", "content-encoding": "utf-8", "content-type": "application/json", '
            '"headers": {"lang": "py", "task": ' + _q(plan.task_name) + ', "id": '
        )
        middle = (
            ', "shadow": null, "eta": null, "expires": null, "group": null, '
            '"group_index": null, "retries": 0, "timelimit": '
            + _ENVELOPE_ENCODER.encode([plan.time_limit, plan.soft_time_limit])
            + ', "root_id": '
        )
        tail = (
            ', "ignore_result": '
            + ("true" if plan.ignore_result else "false")
            + ', "replaced_task_nesting": 0, "stamped_headers": null, "stamps": {}}, '
            '"properties": {"correlation_id": '
        )
        plan.parts = (head, middle, tail)

    def template(self, plan: Plan, item: Any, task_id: str, pri: int, tag: str) -> tuple[str, str]:
        try:
            item_json = _ITEM_ENCODER.encode(item)
        except Exception as exc:  # kombu's dumps turns any encoder error into EncodeError
            raise EncodeError(exc) from exc
        body = ("[[" + item_json + "], {}, " + _EMBED + "]").encode("utf-8")
        root_id, parent_id = self._lineage(task_id)
        key, pri = plan.key_for(pri)
        head, middle, tail = plan.parts
        qid = _q(task_id)
        return key, "".join(
            (
                '{"body": "',
                b64encode(body).decode("ascii"),
                head,
                qid,
                middle,
                _q(root_id),
                ', "parent_id": ',
                "null" if parent_id is None else _q(parent_id),
                ', "argsrepr": ',
                _q(argsrepr([item], self._maxsize, self._maxlevels)),
                ', "kwargsrepr": "{}", "origin": ',
                _q(self.origin()),
                tail,
                qid,
                ', "reply_to": ',
                _q(self.app.thread_oid),
                ', "delivery_mode": 2, "delivery_info": {"exchange": "", "routing_key": ',
                _q(plan.queue),
                '}, "priority": ',
                str(pri),
                ', "body_encoding": "base64", "delivery_tag": ',
                _q(tag),
                "}}",
            )
        )

    def self_check(self, plan: Plan) -> bool:
        """Enable the template for ``plan`` if it matches ``generic`` and Celery's own builder."""
        sample = {"k": [1, "v", None, 2.5, True], "n": {"x": "中文"}}
        task_id = "00000000-0000-4000-8000-000000000000"
        key, generic = self.generic(plan, sample, task_id, 0, "tag")
        message = self.app.amqp.as_task_v2(
            task_id,
            plan.task_name,
            [sample],
            {},
            reply_to=self.app.thread_oid,
            time_limit=plan.time_limit,
            soft_time_limit=plan.soft_time_limit,
            ignore_result=plan.ignore_result,
        )
        envelope = json.loads(generic)
        celery_ok = list(envelope["headers"].items()) == list(
            message.headers.items()
        ) and json.loads(encode(message.body, plan.serializer)[2]) == json.loads(
            b64decode(envelope["body"])
        )
        if not celery_ok:
            return False
        if plan.serializer == "json" and _stock_kombu_json():
            self._prepare_template(plan)
            plan.template = self.template(plan, sample, task_id, 0, "tag") == (key, generic)
        return True
