"""Comparing the two runs call by call; every mismatch says what differs and what to do."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ._calls import BackendRun, CallRecord
from ._fingerprint import Difference, describe, differences, first_difference

__all__ = ["MISMATCH_KINDS", "Mismatch", "compare_runs"]

MISMATCH_KINDS = (
    "enqueue_error",
    "arg_drift",
    "result",
    "status",
    "exception",
    "attempts",
    "observed_state",
    "missing",
)

_JSON_HINT = (
    "send only what JSON carries (str, int, float, bool, None, list, dict with str keys; "
    "datetime, UUID, Decimal and bytes also travel), or convert the value before put"
)
_PROCESS_HINT = (
    "the handler depends on the caller's process memory (a global, a cache, a flag), which the "
    "worker process does not share; pass what it needs in the payload or keep it in Redis"
)


@dataclass(frozen=True)
class Mismatch:
    """One difference between the backends, as ``parity --json`` gives it (docs/json.md)."""

    call: int | None
    task: str | None
    kind: str
    legacy: str
    celery: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _error_text(error: dict[str, str] | None) -> str:
    if not error:
        return "(none)"
    return f"{error.get('type')}: {error.get('message')}"


def _article(type_name: str) -> str:
    return ("an " if type_name[:1].lower() in "aeiou" else "a ") + type_name


def _type_of(node: dict[str, Any] | None) -> str:
    return node.get("t", "?") if node else "nothing"


def _drift_detail(diff: Difference, what: str, fix: str) -> str:
    """``payload["coords"] arrives as a list on Celery (a tuple on legacy): <fix>``."""
    if diff.reason == "key_type":
        return (
            f"{diff.path} key {describe(diff.legacy)} ({_type_of(diff.legacy)}) {what} as "
            f"{describe(diff.celery)} ({_type_of(diff.celery)}) on Celery: use str keys, or "
            "convert them back in the handler"
        )
    if diff.reason == "missing_key":
        return f"{diff.path} is missing on Celery ({describe(diff.legacy)} on legacy): {fix}"
    if diff.reason == "extra_key":
        return f"{diff.path} exists only on Celery ({describe(diff.celery)}): {fix}"
    if diff.reason == "type":
        lt, ct = _type_of(diff.legacy), _type_of(diff.celery)
        specific = f"send {_article(ct)}, or accept one in the handler"
        if what != "arrives":
            specific = f"return {_article(ct)}, or convert it where the result is read"
        advice = specific if (lt, ct) in (("tuple", "list"),) else fix
        verb = what if what == "is" else f"{what} as"
        return f"{diff.path} {verb} {_article(ct)} on Celery ({_article(lt)} on legacy): {advice}"
    return (
        f"{diff.path} is {describe(diff.celery)} on Celery but {describe(diff.legacy)} on "
        f"legacy: {fix}"
    )


def compare_runs(legacy: BackendRun, celery: BackendRun, timeout: float) -> list[Mismatch]:
    """All mismatches, call by call in call order, then the observed state."""
    found: list[Mismatch] = []
    for index in range(max(len(legacy.calls), len(celery.calls))):
        lc = legacy.calls[index] if index < len(legacy.calls) else None
        cc = celery.calls[index] if index < len(celery.calls) else None
        found.extend(_compare_call(index, lc, cc, legacy, celery, timeout))
    found.extend(_compare_workload(legacy, celery))
    found.extend(_compare_observed(legacy, celery))
    return found


def _never_made(index: int, made: CallRecord, other: BackendRun, side: str) -> Mismatch:
    why = f" ({_error_text(other.workload_error)})" if other.workload_error else ""
    text = f"put #{index} was never made on {side}"
    return Mismatch(
        index,
        made.task,
        "missing",
        "put made" if side == "Celery" else text,
        text if side == "Celery" else "put made",
        f"{text}: workload(q) stopped early there{why}; fix the earlier difference first",
    )


def _compare_call(
    index: int,
    lc: CallRecord | None,
    cc: CallRecord | None,
    legacy: BackendRun,
    celery: BackendRun,
    timeout: float,
) -> list[Mismatch]:
    if lc is None or cc is None:
        made = lc if lc is not None else cc
        assert made is not None
        return [_never_made(index, made, celery if cc is None else legacy, _side(cc is None))]
    task = lc.task or cc.task
    if lc.enqueue_error or cc.enqueue_error:
        return _compare_enqueue(index, task, lc, cc)
    if lc.handle is None and cc.handle is None:
        return []  # an adopted queue's sentinel: kept in process on both sides, nothing ran
    for call, side in ((lc, "legacy"), (cc, "Celery")):
        if not call.finished:
            return [_missing(index, task, lc, cc, side, timeout, celery.info)]
    found: list[Mismatch] = []
    drift = _arg_difference(lc, cc)
    if drift is not None:
        found.append(
            Mismatch(
                index,
                task,
                "arg_drift",
                describe(drift.legacy),
                describe(drift.celery),
                _drift_detail(drift, "arrives", _JSON_HINT),
            )
        )
    if lc.status != cc.status:
        found.append(_status_mismatch(index, task, lc, cc, drifted=drift is not None))
    elif lc.status == "SUCCESS":
        found.extend(_compare_result(index, task, lc, cc, drifted=drift is not None))
    elif (lc.error or {}).get("type") != (cc.error or {}).get("type") or (lc.error or {}).get(
        "message"
    ) != (cc.error or {}).get("message"):
        found.append(
            Mismatch(
                index,
                task,
                "exception",
                _error_text(lc.error),
                _error_text(cc.error),
                f"the handler fails with {_error_text(cc.error)} on Celery but with "
                f"{_error_text(lc.error)} on legacy: "
                + ("it follows from the payload drift; fix that first" if drift else _PROCESS_HINT),
            )
        )
    if len(lc.attempts) != len(cc.attempts) and lc.attempts and cc.attempts:
        found.append(
            Mismatch(
                index,
                task,
                "attempts",
                str(len(lc.attempts)),
                str(len(cc.attempts)),
                f"the handler ran {len(cc.attempts)} time(s) on Celery but {len(lc.attempts)} on "
                "legacy: whether an attempt fails differs between the backends; " + _PROCESS_HINT,
            )
        )
    return found


def _side(celery_missing: bool) -> str:
    return "Celery" if celery_missing else "legacy"


def _compare_enqueue(
    index: int, task: str | None, lc: CallRecord, cc: CallRecord
) -> list[Mismatch]:
    le, ce = lc.enqueue_error, cc.enqueue_error
    if le and ce and le.get("type") == ce.get("type"):
        return []
    legacy_text = _error_text(le) if le else "enqueued"
    celery_text = _error_text(ce) if ce else "enqueued"
    if ce and not le:
        # A PayloadError already names the path and the fix; anything else gets the JSON hint.
        fix = "" if ce.get("type") == "PayloadError" else f": {_JSON_HINT}"
        detail = f"put raises on Celery but enqueues on legacy: {_error_text(ce)}{fix}"
    elif le and not ce:
        detail = (
            f"put raises {_error_text(le)} on legacy but enqueues on Celery: the legacy queue "
            "refuses it (full, or no handler for the item); check maxsize and route"
        )
    else:
        detail = f"put raises {celery_text} on Celery but {legacy_text} on legacy: {_JSON_HINT}"
    return [Mismatch(index, task, "enqueue_error", legacy_text, celery_text, detail)]


def _missing(
    index: int,
    task: str | None,
    lc: CallRecord,
    cc: CallRecord,
    side: str,
    timeout: float,
    worker: dict[str, Any],
) -> Mismatch:
    call = lc if side == "legacy" else cc
    state = f"not finished after {timeout:g}s ({call.status or 'PENDING'})"
    hint = (
        "the handler probably waits for something only the caller's process provides (an event, "
        "a lock, a value set after put); make it independent of the caller, or raise --timeout"
        if side == "Celery"
        else "the handler hangs in process; raise --timeout if it is only slow"
    )
    if side == "Celery" and worker.get("worker_exit_code") is not None:
        hint = (
            f"the worker process exited (code {worker['worker_exit_code']}) during the run: a "
            "handler that ends or crashes its process (sys.exit, os._exit) takes the worker "
            "down; raise an exception instead (worker_log_tail in --json shows its last words)"
        )
    elif side == "Celery" and worker.get("broker_connection_lost"):
        hint = (
            "the worker lost its broker connection while taking it (a message of several MB on "
            "the embedded server? run with --redis-url on a real Redis)"
        )
    return Mismatch(
        index,
        task,
        "missing",
        state if side == "legacy" else str(lc.status),
        state if side == "Celery" else str(cc.status),
        f"the task did not finish within {timeout:g}s on {side}: {hint}",
    )


def _arg_difference(lc: CallRecord, cc: CallRecord) -> Difference | None:
    if not lc.attempts or not cc.attempts:
        return None
    return first_difference(lc.attempts[0]["arg"], cc.attempts[0]["arg"], "payload")


def _status_mismatch(
    index: int, task: str | None, lc: CallRecord, cc: CallRecord, *, drifted: bool
) -> Mismatch:
    failed = cc if cc.status == "FAILURE" else lc
    because = f" ({_error_text(failed.error)})" if failed.error else ""
    error_type = (failed.error or {}).get("type", "")
    if drifted:
        hint = "it follows from the payload drift above; fix that first"
    elif failed is cc and "Encode" in error_type:
        hint = "Celery cannot store the handler's result as JSON; return JSON types"
    else:
        hint = _PROCESS_HINT
    return Mismatch(
        index,
        task,
        "status",
        f"{lc.status}" + (f" ({_error_text(lc.error)})" if lc.status == "FAILURE" else ""),
        f"{cc.status}" + (f" ({_error_text(cc.error)})" if cc.status == "FAILURE" else ""),
        f"the task ends {cc.status} on Celery but {lc.status} on legacy{because}: {hint}",
    )


def _compare_result(
    index: int, task: str | None, lc: CallRecord, cc: CallRecord, *, drifted: bool
) -> list[Mismatch]:
    if lc.result is None or cc.result is None:
        return []
    diff = first_difference(lc.result, cc.result, "result")
    if diff is None:
        return []
    returned = cc.attempts[-1].get("returned") if cc.attempts else None
    same_return = returned is not None and first_difference(lc.result, returned, "result") is None
    if same_return:
        fix = (
            "the handler returns the same, but the JSON result backend changes it; "
            "return JSON types"
        )
        detail = _drift_detail(diff, "comes back", fix)
    else:
        why = "it follows from the payload drift; fix that first" if drifted else _PROCESS_HINT
        detail = (
            f"{diff.path} is {describe(diff.celery)} on Celery but {describe(diff.legacy)} on "
            f"legacy: the handler returns something else in the worker; {why}"
        )
    return [Mismatch(index, task, "result", describe(diff.legacy), describe(diff.celery), detail)]


def _compare_workload(legacy: BackendRun, celery: BackendRun) -> list[Mismatch]:
    le, ce = legacy.workload_error, celery.workload_error
    if (le or {}).get("type") == (ce or {}).get("type"):
        return []
    # put errors already have their own mismatch; this is the driver failing by itself.
    last = celery.calls[-1] if ce and celery.calls else None
    if last is not None and last.enqueue_error and last.enqueue_error == ce:
        return []
    last = legacy.calls[-1] if le and legacy.calls else None
    if last is not None and last.enqueue_error and last.enqueue_error == le:
        return []
    if (ce or {}).get("type") == "Timeout":
        detail = (
            f"{(ce or {}).get('message')} on Celery (it returns on legacy): it waits for "
            "something only a handler running in the caller's process provides (an event, a "
            "value in memory); wait on the handle put returned instead"
        )
    else:
        detail = (
            f"workload(q) raises {_error_text(ce)} on Celery but {_error_text(le)} on legacy: "
            "the driver reads something that differs between the backends (a handle's status "
            "or result right after put?); wait on handles before reading them"
        )
    return [Mismatch(None, None, "exception", _error_text(le), _error_text(ce), detail)]


def _compare_observed(legacy: BackendRun, celery: BackendRun) -> list[Mismatch]:
    if legacy.observe_error or celery.observe_error:
        if (legacy.observe_error or {}).get("type") == (celery.observe_error or {}).get("type"):
            return []
        return [
            Mismatch(
                None,
                None,
                "observed_state",
                _error_text(legacy.observe_error),
                _error_text(celery.observe_error),
                f"observe() raises {_error_text(celery.observe_error)} on Celery but "
                f"{_error_text(legacy.observe_error)} on legacy: {_PROCESS_HINT}",
            )
        ]
    if legacy.observed is None or celery.observed is None:
        return []
    fix = (
        "the handler changes state in process memory, which the caller no longer sees once the "
        "worker is another process; keep that state in Redis or a database"
    )
    # Every differing key, not only the first: each is a place the app reads stale state.
    return [
        Mismatch(
            None,
            None,
            "observed_state",
            describe(diff.legacy),
            describe(diff.celery),
            _drift_detail(diff, "is", fix)
            if diff.reason != "value"
            else (
                f"{diff.path} is {describe(diff.celery)} on Celery but {describe(diff.legacy)} "
                f"on legacy: {fix}"
            ),
        )
        for diff in differences(legacy.observed, celery.observed, "observe()")
    ]
