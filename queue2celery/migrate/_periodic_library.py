"""Jobs registered with a scheduling library: ``schedule`` (``every(...)...do(job)``,
``@repeat``), APScheduler (``add_job``, ``add_schedule``, ``@scheduled_job``) and
fastapi-utils' ``@repeat_every``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._periodic_facts import JobFact, ModuleFacts
from ._periodic_model import PeriodicJob, Schedule, StartSite
from ._periodic_names import Sym
from ._periodic_triggers import aps_schedule, schedule_lib

if TYPE_CHECKING:
    from ._periodic_link import Linker

__all__ = ["library_job"]

APS_CONTROL = frozenset(
    {
        "pause_job",
        "resume_job",
        "remove_job",
        "reschedule_job",
        "modify_job",
        "remove_all_jobs",
        "add_job",
        "pause",
        "resume",
        "shutdown",
        "start",
    }
)
APS_ONLY = frozenset(
    {"pause_job", "resume_job", "remove_job", "reschedule_job", "modify_job", "remove_all_jobs"}
)
APS_OPTIONS = ("id", "misfire_grace_time", "coalesce", "max_instances", "replace_existing")
SCHEDULE_CONTROL = frozenset({"clear", "cancel_job"})


def library_job(linker: Linker, facts: ModuleFacts, fact: JobFact) -> PeriodicJob | None:
    receiver = linker.canon(fact.receiver)
    cls = linker.canon(linker.objects.get(receiver or "")) or ""
    review: list[str] = []
    notes: list[str] = []
    options: dict[str, Any] = {}
    args: tuple[str, ...] = fact.job_args
    kwargs = fact.job_kwargs
    control: list[str] = []
    start: StartSite | None = linker.site(facts, fact.stmt)
    expression = fact.expression or fact.stmt.code
    if fact.kind == "schedule":
        if not (
            fact.imports_library
            or (receiver or "").startswith("schedule")
            or cls.startswith("schedule.")
        ):
            return None
        schedule, review, notes = schedule_lib(fact.steps, linker.values, expression)
        started_by = "schedule"
        runners = [f.fqn for f in linker.functions.values() if f.loop and f.loop.run_pending]
        notes.append(
            "run_pending() runs in " + (", ".join(sorted(runners)) or "no loop scan found")
        )
        for method in linker.route_methods():
            if method.method in SCHEDULE_CONTROL and linker.canon(method.receiver) == receiver:
                control.append(
                    f"endpoint {method.function} calls {method.receiver_text}.{method.method}()"
                )
    elif fact.kind in ("add_job", "scheduled_job"):
        if not (fact.imports_library or cls.startswith("apscheduler.")):
            return None
        if fact.receiver_text in ("self", "cls"):
            return None  # a scheduler's own code (APScheduler's scheduled_job calls add_job)
        name, call_args, call_kwargs = fact.steps[-1]
        kw = dict(call_kwargs)
        position = 1 if fact.kind == "add_job" else 0
        trigger: Sym | None = (
            call_args[position] if len(call_args) > position else kw.get("trigger")
        )
        found = aps_schedule(trigger, kw, linker.values, expression)
        if found is None:
            return None  # a one-off ("date" trigger): not periodic work
        schedule, review, notes = found
        for key in APS_OPTIONS:
            if key in kw:
                options[key] = _option(kw[key])
        if "args" in kw:
            args = (f"*{_text(kw['args'])}",)
        if "kwargs" in kw:
            kwargs = (("**", _text(kw["kwargs"])),)
        started_by = "apscheduler"
        zone = _scheduler_timezone(linker, receiver)
        if zone and schedule.type == "cron":
            notes.append(f"the scheduler runs in time zone {zone}: set Celery's timezone to it")
        if fact.kind == "scheduled_job":
            runner = _scheduler_start(linker, receiver)
            if runner is not None:
                notes.append(f"the scheduler starts at {runner.path}:{runner.line}: {runner.code}")
        for method in linker.route_methods():
            same = linker.canon(method.receiver) == receiver and method.method in APS_CONTROL
            if same or (method.method in APS_ONLY and method.receiver != receiver):
                control.append(
                    f"endpoint {method.function} calls {method.receiver_text}.{method.method}()"
                )
    elif fact.kind == "repeat_every":
        kw = dict(fact.steps[-1][2])
        seconds = linker.values.number(kw["seconds"], notes=notes) if "seconds" in kw else None
        if seconds is None:
            review.append(f"the interval of {expression!r} cannot be resolved statically")
            schedule = Schedule("unknown", expression=expression)
        else:
            schedule = Schedule("interval", seconds=seconds, expression=expression)
        if "max_repetitions" in kw:
            review.append("max_repetitions ends the job: Beat entries do not end by themselves")
        notes.append("fastapi-utils repeat_every runs it as an asyncio task of the API process")
        started_by = "task"
    else:
        return None
    function = linker.canon(fact.job)
    callable_ = None
    is_async = None
    if function is None:
        review.append(f"the job {fact.job_text!r} is not a function scan can resolve")
    else:
        callable_, why = linker.callable(function, None)
        if why:
            review.append(why)
        target = linker.function(function)
        is_async = target.is_async if target else None
    if args or (kwargs and fact.kind != "schedule") or fact.job_kwargs:
        review.append("each run gets arguments: check they are constant")
    risks = linker.risks(None, False, False, function, schedule, control, notes)
    name = (function or fact.job_text or "job").rsplit(".", 1)[-1].lstrip("_") or "job"
    return PeriodicJob(
        path=facts.rel,
        line=fact.line,
        col=fact.col,
        name=name,
        function=function,
        callable=callable_,
        is_async=is_async,
        started_by=started_by,
        schedule=schedule,
        start=start,
        args=args,
        kwargs=kwargs,
        options=tuple(options.items()),
        risks=risks,
        needs_review=tuple(review),
        details=tuple(dict.fromkeys(notes)),
    )


def _scheduler_start(linker: Linker, receiver: str | None) -> StartSite | None:
    for facts in linker.modules:
        for method in facts.methods:
            if (
                method.method in ("start", "start_in_background")
                and linker.canon(method.receiver) == receiver
            ):
                return linker.site(facts, method.stmt)
    return None


def _scheduler_timezone(linker: Linker, receiver: str | None) -> str | None:
    for facts in linker.modules:
        for obj in facts.objects:
            if obj.bound == receiver:
                zone = dict(obj.kwargs).get("timezone")
                return linker.values.string(zone) if zone else None
    return None


def _option(sym: Sym) -> Any:
    if sym[0] in ("num", "str"):
        return sym[1]
    if sym[0] == "src" and sym[1] in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[sym[1]]
    return _text(sym)


def _text(sym: Sym) -> str:
    if sym[0] == "src":
        return str(sym[1])
    if sym[0] == "num":
        return repr(sym[1])
    if sym[0] == "str":
        return repr(sym[1])
    if sym[0] == "ref":
        return str(sym[1])
    return "<expression>"
