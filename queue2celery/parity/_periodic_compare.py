"""Periodic parity's comparison: tick by tick, and overlaps on either side."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ._fingerprint import describe, first_difference

__all__ = ["PeriodicMismatch", "compare_periodic", "overlaps"]


@dataclass(frozen=True)
class PeriodicMismatch:
    """One difference; ``kind``: arg_drift, result, exception, skipped, missing or overlap."""

    tick: int | None
    kind: str
    legacy: str
    celery: str
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def overlaps(runs: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Pairs of runs (by index) where one started before the other ended."""
    ran = sorted(
        (r["start"], r["end"], i) for i, r in enumerate(runs) if r.get("state") != "IGNORED"
    )
    return [(a[2], b[2]) for a, b in zip(ran, ran[1:], strict=False) if b[0] < a[1]]


def _by_tick(runs: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    ordered = sorted(runs, key=lambda r: r["start"])
    return {(r["tick"] if isinstance(r.get("tick"), int) else i): r for i, r in enumerate(ordered)}


def _error(run: dict[str, Any]) -> str:
    error = run.get("error") or {}
    return f"{error.get('type')}: {error.get('message')}"


def _drift_detail(diff: Any) -> str:
    legacy_type = (diff.legacy or {}).get("t", "(absent)")
    celery_type = (diff.celery or {}).get("t", "(absent)")
    if diff.reason == "type":
        return (
            f"{diff.path}: the loop passed a {legacy_type}, the Celery task got a {celery_type} "
            "(Celery's JSON changes it); convert it in the function or pass a JSON type"
        )
    return (
        f"{diff.path}: the loop passed {describe(diff.legacy)}, the Celery task got "
        f"{describe(diff.celery)} ({diff.reason})"
    )


def _compare_tick(
    tick: int, legacy: dict[str, Any], celery: dict[str, Any], interval: float, longest: float
) -> list[PeriodicMismatch]:
    if celery.get("state") == "IGNORED":
        return [
            PeriodicMismatch(
                tick,
                "skipped",
                "ran",
                "skipped",
                f"the previous run still held the lock: ticks every {interval:.2f}s, but a run "
                f"takes up to {longest:.2f}s; schedule it less often",
            )
        ]
    found: list[PeriodicMismatch] = []
    names = list(dict.fromkeys([*legacy["call"], *celery["call"]]))
    for name in names:
        diff = first_difference(
            legacy["call"].get(name, {"t": "(absent)"}),
            celery["call"].get(name, {"t": "(absent)"}),
            name,
        )
        if diff is not None:
            found.append(
                PeriodicMismatch(
                    tick,
                    "arg_drift",
                    describe(diff.legacy),
                    describe(diff.celery),
                    _drift_detail(diff),
                )
            )
    if "error" in legacy or "error" in celery:
        if legacy.get("error", {}).get("type") != celery.get("error", {}).get("type"):
            found.append(
                PeriodicMismatch(
                    tick,
                    "exception",
                    _error(legacy) if "error" in legacy else "no exception",
                    _error(celery) if "error" in celery else "no exception",
                    "the run raised on one side only, or a different exception",
                )
            )
    elif "result" in legacy and "result" in celery:
        diff = first_difference(legacy["result"], celery["result"], "result")
        if diff is not None:
            found.append(
                PeriodicMismatch(
                    tick,
                    "result",
                    describe(diff.legacy),
                    describe(diff.celery),
                    f"{diff.path}: {diff.reason} differs (Celery stores results as JSON)",
                )
            )
    return found


def compare_periodic(
    legacy_runs: list[dict[str, Any]],
    celery_runs: list[dict[str, Any]],
    ticks: int,
    interval: float,
) -> list[PeriodicMismatch]:
    """Every difference between the two sides' runs."""
    longest = max((r["end"] - r["start"] for r in legacy_runs), default=0.0)
    legacy, celery = _by_tick(legacy_runs), _by_tick(celery_runs)
    found: list[PeriodicMismatch] = []
    for tick in range(ticks):
        if tick not in celery:
            found.append(
                PeriodicMismatch(tick, "missing", "ran", "never ran", "no worker ran this tick")
            )
        elif tick in legacy:
            found.extend(_compare_tick(tick, legacy[tick], celery[tick], interval, longest))
    for side, runs in (("legacy", legacy_runs), ("celery", celery_runs)):
        for first, second in overlaps(runs):
            marks = {"legacy": "-", "celery": "-", side: "overlapped"}
            found.append(
                PeriodicMismatch(
                    runs[second].get("tick"),
                    "overlap",
                    marks["legacy"],
                    marks["celery"],
                    f"on {side}, tick {runs[second].get('tick')} started before tick "
                    f"{runs[first].get('tick')} ended",
                )
            )
    return found
