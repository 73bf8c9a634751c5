"""Payloads visible in the source that will not survive Celery's JSON serializer unchanged."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "RISKS",
    "Risk",
    "closure_risk",
    "host_risk",
    "object_risk",
    "priority_risk",
    "requeue_risk",
    "sentinel_risk",
    "startup_risk",
]


@dataclass(frozen=True)
class Risk:
    """One risky payload shape: a short stable code and what goes wrong."""

    code: str
    message: str


RISKS: dict[str, Risk] = {
    r.code: r
    for r in (
        Risk("tuple-literal", "tuple literal: JSON turns it into a list"),
        Risk("set-literal", "set literal: sets are not JSON serializable"),
        Risk("frozenset", "frozenset: not JSON serializable"),
        Risk("bytes-literal", "bytes literal: not JSON serializable"),
        Risk("lambda", "lambda: functions cannot be sent to another process"),
        Risk(
            "dict-non-str-key",
            "dict with non-string literal keys: JSON turns the keys into strings",
        ),
        Risk(
            "object-construction",
            "object constructed in the payload: Celery's JSON cannot carry it",
        ),
    )
}

# -- risks of the call itself (not of its payload's shape) --------------------------------
# adopt(types=...) carries classes whose fields it can read back: these declarations.
CARRIABLE = {
    "dataclass": "a dataclass",
    "pydantic": "a pydantic model",
    "attrs": "an attrs class",
    "namedtuple": "a NamedTuple",
    "enum": "an Enum",
    "typeddict": "a TypedDict (a plain dict on the wire)",
}


def sentinel_risk() -> Risk:
    return Risk(
        "sentinel",
        "a shutdown sentinel for the app's own consumer: it is never a task, keep it as it is",
    )


def priority_risk(unsplit: bool = False) -> Risk:
    if unsplit:
        return Risk(
            "priority-tuple",
            "a (priority, x, item) PriorityQueue entry whose middle element is not "
            "recognisably a counter: the item could not be told from a tie-breaker, so rewrite "
            "leaves the put as it is; send the item with apply_async((item,), priority=...)",
        )
    return Risk(
        "priority-tuple",
        "a (priority, item) PriorityQueue entry: send the item with "
        "apply_async((item,), priority=...) (Celery on Redis: 0-9, 0 first), not the tuple",
    )


def object_risk(cls: str, kind: str | None, config: object) -> Risk:
    listed = cls in getattr(config, "types", ())
    if kind in CARRIABLE:
        how = f"it is {CARRIABLE[kind]}, so adopt(types=[{cls.rpartition('.')[2]}]) can carry it"
        if listed:
            how += " (listed in types)"
    elif kind == "plain":
        how = (
            "it is a plain class, which adopt(types=...) cannot carry: make it a dataclass "
            "or send its fields"
        )
    else:
        how = "its class is not in the tree, so whether adopt(types=...) can carry it is unknown"
    return Risk("object-payload", f"payload is a {cls} object; {how}")


def requeue_risk() -> Risk:
    return Risk(
        "requeue-in-consumer",
        "re-queued from inside the consumer loop: in Celery use the task's retry "
        "(self.retry(countdown=...)) or apply_async(countdown=/eta=), not a new task",
    )


def startup_risk() -> Risk:
    return Risk(
        "startup-reload",
        "re-puts work at startup (persisted or pending tasks): with Celery the broker keeps "
        "them, so every API start would send them all again; drop this loop after the move",
    )


def closure_risk(captures: tuple[str, ...]) -> Risk:
    names = ", ".join(captures)
    return Risk(
        "closure",
        f"runs a closure that captures {names}: move it to module level and pass "
        f"{names} as arguments before it can become a task",
    )


def host_risk(why: str) -> Risk:
    return Risk("host-bound", f"{why}: this must run on this host, keep it local")


def kwargs_risk(detail: str) -> Risk:
    return Risk("kwargs", detail)
