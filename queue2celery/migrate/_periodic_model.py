"""What scan reports about periodic work: one :class:`PeriodicJob` per job, with its schedule,
the function each run calls, how the legacy code starts it, its risks and what needs review."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._risks import Risk

__all__ = ["PERIODIC_RISKS", "CRON_FIELDS", "PeriodicJob", "Schedule", "StartSite"]

#: How the legacy code starts a job (``started_by``).
STARTERS = ("thread", "task", "schedule", "apscheduler", "homemade", "script")

#: Celery ``crontab`` fields, in its argument order.
CRON_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")

PERIODIC_RISKS: dict[str, Risk] = {
    r.code: r
    for r in (
        Risk(
            "overrun",
            "a run can take longer than its interval; the loop never overlapped itself, Beat "
            "starts the next run on time (the per-entry lock skips it, and logs the skip)",
        ),
        Risk(
            "process-state",
            "writes process state that other code reads; under Beat it runs in a worker "
            "process, so the API process no longer sees the change",
        ),
        Risk(
            "runtime-control",
            "started or stopped at runtime by an endpoint; a Beat entry runs until the "
            "schedule changes, so the endpoint must change the Beat schedule instead",
        ),
    )
}


@dataclass(frozen=True)
class Schedule:
    """``interval`` (``seconds``), ``cron`` (``cron`` fields as crontab strings) or
    ``unknown`` (not resolvable statically; ``expression`` says what the code says)."""

    type: str
    seconds: float | None = None
    cron: tuple[tuple[str, str], ...] = ()
    expression: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.type == "interval":
            seconds = self.seconds
            out["seconds"] = (
                int(seconds) if seconds is not None and seconds == int(seconds) else seconds
            )
        if self.type == "cron":
            out.update(dict(self.cron))
        out["expression"] = self.expression
        return out


@dataclass(frozen=True)
class StartSite:
    """The legacy statement that starts the job (a thread or task start, a registration, a
    scheduler's ``start()``): the one the rewrite guards. Lines are 1-based."""

    path: str
    line: int
    col: int
    end_line: int
    code: str  # the statement's first line, stripped

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "end_line": self.end_line,
            "code": self.code,
        }


@dataclass(frozen=True)
class PeriodicJob:
    """One periodic job. ``path/line/col`` is where the schedule is defined (the loop, the
    ``.do()`` or ``add_job`` call, the decorator, the home-made object); ``function`` the
    fully qualified name of what each run calls (None when the loop body is inline),
    ``callable`` the same as ``module:qualname`` (how the generated task imports it)."""

    path: str
    line: int
    col: int
    name: str
    function: str | None
    callable: str | None
    is_async: bool | None
    started_by: str
    schedule: Schedule
    start: StartSite | None
    args: tuple[str, ...] = ()  # source text of the arguments each run gets
    kwargs: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()  # literal scheduler options (coalesce, ...)
    risks: tuple[Risk, ...] = ()
    needs_review: tuple[str, ...] = ()
    target: str | None = None  # an existing Celery task mapped in [tool.queue2celery.periodic]
    details: tuple[str, ...] = field(default=(), compare=False)  # notes for the reader

    @property
    def ready(self) -> bool:
        """Whether the generated schedule can carry it without a human deciding first."""
        return not self.needs_review and (self.callable is not None or self.target is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "kind": "periodic",
            "name": self.name,
            "function": self.function,
            "callable": self.callable,
            "async": self.is_async,
            "started_by": self.started_by,
            "schedule": self.schedule.to_dict(),
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "options": dict(self.options),
            "start": self.start.to_dict() if self.start else None,
            "target": self.target,
            "risks": [{"code": r.code, "message": r.message} for r in self.risks],
            "needs_review": list(self.needs_review),
            "notes": list(self.details),
        }


def describe_schedule(schedule: Schedule) -> str:
    """``every 21600s``, ``crontab(minute=0, hour=2)``, ``? (settings.X)``."""
    if schedule.type == "interval" and schedule.seconds is not None:
        return f"every {schedule.seconds:g}s"
    if schedule.type == "cron":
        fields = ", ".join(f"{k}={v}" for k, v in schedule.cron if v != "*")
        return f"crontab({fields})"
    return f"? ({schedule.expression})"


def periodic_lines(job: PeriodicJob) -> list[str]:
    """The text ``scan`` prints for one job (the JSON carries the same, and more)."""
    what = job.function or "(inline loop body)"
    target = f" -> {job.target}" if job.target else ""
    lines = [
        f"{job.path}:{job.line}:{job.col}: periodic {job.name} {describe_schedule(job.schedule)}"
        f" {what}{target} [{job.started_by}]"
    ]
    if job.start is not None:
        lines.append(f"    started at {job.start.path}:{job.start.line}: {job.start.code}")
    lines += [f"    risk {r.code}: {r.message}" for r in job.risks]
    lines += [f"    review: {reason}" for reason in job.needs_review]
    return lines
