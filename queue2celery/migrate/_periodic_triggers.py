"""Schedules from the ``schedule`` library's chains and APScheduler's triggers, as Beat sees
them: an interval in seconds, or ``crontab`` fields. Whatever Beat cannot say the same way
(seconds in a cron, random intervals, a start date) is a review note, never a silent change."""

from __future__ import annotations

from collections.abc import Sequence

from ._periodic_eval import Values
from ._periodic_model import CRON_FIELDS, Schedule
from ._periodic_names import Sym

__all__ = ["aps_schedule", "schedule_lib"]

Step = tuple[str, tuple[Sym, ...], tuple[tuple[str, Sym], ...]]
_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
_WEEKDAYS = {
    "monday": "mon",
    "tuesday": "tue",
    "wednesday": "wed",
    "thursday": "thu",
    "friday": "fri",
    "saturday": "sat",
    "sunday": "sun",
}
_APS_DOW = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler: 0 is Monday
_APS_ORDER = ("year", "month", "day", "week", "day_of_week", "hour", "minute", "second")
_APS_MIN = {"month": "1", "day": "1", "hour": "0", "minute": "0", "second": "0"}
Result = tuple[Schedule, list[str], list[str]]  # schedule, needs-review reasons, notes


def _cron(fields: dict[str, str], expression: str) -> Schedule:
    return Schedule(
        "cron", cron=tuple((f, fields.get(f, "*")) for f in CRON_FIELDS), expression=expression
    )


def schedule_lib(steps: Sequence[Step], values: Values, expression: str) -> Result:
    """``every(6).hours``, ``every().day.at("02:00")``, ``every().monday.at("09:30")``..."""
    review: list[str] = []
    notes: list[str] = []
    count: float | None = 1
    unit = None
    weekday = None
    at: str | None = None
    for name, args, kwargs in steps:
        if name == "every":
            count = values.number(args[0], notes=notes) if args else 1
        elif name == "to":
            review.append("a random interval (every(a).to(b)): Beat has no such schedule")
        elif name.rstrip("s") in _SECONDS:
            unit = name.rstrip("s")
        elif name in _WEEKDAYS:
            weekday, unit = _WEEKDAYS[name], "week"
        elif name == "at":
            at = values.string(args[0], notes=notes) if args else None
            if len(args) > 1 or kwargs:
                notes.append("at() is given a time zone: set Celery's timezone to match")
            if at is None:
                review.append(f"the time in {expression!r} is not a literal scan can read")
        elif name == "until":
            review.append("until(...) ends the job: Beat entries do not end by themselves")
    if unit is None or count is None:
        review.append(f"the interval of {expression!r} cannot be resolved statically")
        return Schedule("unknown", expression=expression), review, notes
    if at is None and weekday is None:
        return (
            Schedule("interval", seconds=count * _SECONDS[unit], expression=expression),
            review,
            notes,
        )
    if count != 1:
        review.append(f"every({count:g}) with at(): Beat's crontab cannot skip periods")
    if weekday is not None and at is None:
        review.append("a weekly job without at() runs at the time the app started; pick a time")
        at = "00:00"
    parts = (at or "").lstrip(":").split(":")
    if not all(p.isdigit() for p in parts):
        review.append(f"at({at!r}) is not a time scan can read")
        return Schedule("unknown", expression=expression), review, notes
    fields: dict[str, str] = {}
    if unit in ("day", "week"):
        fields["hour"], fields["minute"] = (
            str(int(parts[0])),
            str(int(parts[1]) if len(parts) > 1 else 0),
        )
        if len(parts) > 2 and int(parts[2]):
            review.append("a time with seconds: Beat's crontab runs on the minute")
        if weekday:
            fields["day_of_week"] = weekday
    elif unit == "hour":
        fields["minute"] = str(int(parts[0]))
    else:  # every().minute.at(":15"): seconds within the minute
        review.append("a time within the minute: Beat's crontab runs on the minute")
        return Schedule("interval", seconds=60, expression=expression), review, notes
    return _cron(fields, expression), review, notes


def aps_schedule(
    trigger: Sym | None, kwargs: dict[str, Sym], values: Values, expression: str
) -> Result | None:
    """The schedule of an APScheduler trigger (``"interval"``/``"cron"`` with their keyword
    arguments, ``IntervalTrigger(...)``, ``CronTrigger(...)``, ``CronTrigger.from_crontab``).
    None for a one-off (``"date"``, no trigger): that is not periodic work."""
    review: list[str] = []
    notes: list[str] = []
    kind = None
    fields = dict(kwargs)
    if trigger is not None and trigger[0] == "str":
        kind = trigger[1]
    elif trigger is not None and trigger[0] == "call":
        name = values.canon(trigger[1])
        fields.update(dict(trigger[3]))
        if name.endswith("IntervalTrigger"):
            kind = "interval"
        elif name.endswith("from_crontab"):
            text = values.string(trigger[2][0], notes=notes) if trigger[2] else None
            parts = (text or "").split()
            if len(parts) != 5:
                review.append(f"the crontab in {expression!r} cannot be read statically")
                return Schedule("unknown", expression=expression), review, notes
            return (
                _cron(
                    dict(
                        zip(
                            ("minute", "hour", "day_of_month", "month_of_year", "day_of_week"),
                            parts,
                            strict=False,
                        )
                    ),
                    expression,
                ),
                review,
                notes,
            )
        elif name.endswith("CronTrigger"):
            kind = "cron"
        elif name.endswith("DateTrigger"):
            return None
    elif trigger is not None:
        review.append(f"the trigger of {expression!r} cannot be resolved statically")
        return Schedule("unknown", expression=expression), review, notes
    if kind in (None, "date"):
        return None
    for key in ("start_date", "end_date", "jitter", "timezone"):
        if key in fields:
            notes.append(f"{key} is set: Beat's entry has no exact equivalent, check it")
    if kind == "interval":
        total = 0.0
        for unit, factor in (
            ("weeks", 604800),
            ("days", 86400),
            ("hours", 3600),
            ("minutes", 60),
            ("seconds", 1),
        ):
            if unit in fields:
                amount = values.number(fields[unit], notes=notes)
                if amount is None:
                    review.append(f"{unit} in {expression!r} cannot be resolved statically")
                    return Schedule("unknown", expression=expression), review, notes
                total += amount * factor
        return Schedule("interval", seconds=total or 1, expression=expression), review, notes
    if kind != "cron":
        review.append(f"trigger {kind!r} is not one Beat knows")
        return Schedule("unknown", expression=expression), review, notes
    given = {}
    for key in _APS_ORDER:
        if key in fields:
            value = values.string(fields[key], notes=notes)
            if value is None:
                review.append(f"{key} in {expression!r} cannot be resolved statically")
                return Schedule("unknown", expression=expression), review, notes
            given[key] = value
    if "year" in given or "week" in given:
        review.append("year/week fields: Beat's crontab has no such field")
    if given.get("second", "0") not in ("0", "00"):
        review.append(f"second={given['second']!r}: Beat's crontab runs on the minute")
    least = max((_APS_ORDER.index(k) for k in given), default=_APS_ORDER.index("second"))
    out: dict[str, str] = {}
    for key in ("month", "day", "day_of_week", "hour", "minute"):
        if key in given:
            value = given[key]
        elif _APS_ORDER.index(key) > least and key in _APS_MIN:
            value = _APS_MIN[key]
        else:
            continue
        if key == "day_of_week":
            value = _aps_weekdays(value)
        out[{"day": "day_of_month", "month": "month_of_year"}.get(key, key)] = value
    return _cron(out, expression), review, notes


def _aps_weekdays(value: str) -> str:
    """APScheduler numbers weekdays from Monday (0), crontab from Sunday: use names."""
    out = []
    for part in value.replace(" ", "").split(","):
        pieces = part.split("-")
        if all(p.isdigit() and int(p) < 7 for p in pieces):
            pieces = [_APS_DOW[int(p)] for p in pieces]
        out.append("-".join(pieces))
    return ",".join(out)
