"""``doctor``: the failure checklist."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import cli

# --- doctor, demo --------------------------------------------------------------------

_STATUS_COLORS = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "bright_black"}


@cli.command("doctor")
@click.option(
    "-A",
    "--app",
    "app_spec",
    default=None,
    metavar="MODULE[:ATTR]",
    help="The Celery app (needed for the checks; with --task it defaults to one from REDIS_URL).",
)
@click.option(
    "--task",
    "task_id",
    default=None,
    metavar="ID",
    help="Say where one task is: exactly one state with its evidence.",
)
@click.option(
    "--spool",
    "spool_paths",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="With --task: a spool file to look in (default: Q2C_SPOOL_PATH or ./.q2c-spool.sqlite3).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON (docs/json.md).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds each network wait may take.",
)
def doctor_command(
    app_spec: str | None,
    task_id: str | None,
    spool_paths: tuple[Path, ...],
    as_json: bool,
    timeout: float,
) -> None:
    """Check the classic failures in order, each PASS/WARN/FAIL/SKIP with its fix.

    \b
    imports, broker, result backend, workers answering, tasks registered on a
    worker, queues with a consumer, messages nobody consumes, the Windows pool,
    pickle in accept_content, Redis eviction policy and persistence.
    Exits 1 if any check FAILs.

    \b
    With --task ID: one of done, running, retry_scheduled, reserved, queued,
    unrouted, unregistered, spooled, lost, result_expired, never_sent, with its
    evidence. Exits 1 for lost, unrouted, unregistered and never_sent.
    """
    import json

    if task_id is not None:
        _doctor_task(app_spec, task_id, spool_paths, as_json, timeout)
        return
    if app_spec is None:
        raise click.UsageError("doctor needs -A MODULE[:ATTR] (or --task ID to locate a task)")

    from ..doctor import any_failed, report_json, run_doctor

    checks = run_doctor(app_spec, timeout=timeout)
    if as_json:
        click.echo(json.dumps(report_json(checks), indent=2, ensure_ascii=False))
    else:
        width = max(len(check.name) for check in checks)
        for check in checks:
            status = click.style(f"{check.status:<4}", fg=_STATUS_COLORS.get(check.status))
            click.echo(f"{status}  {check.name:<{width}}  {check.detail}")
            if check.fix and check.status in ("FAIL", "WARN"):
                click.echo(f"{'':<4}  {'':<{width}}  fix: {check.fix}")
        counts = {s: sum(c.status == s for c in checks) for s in _STATUS_COLORS}
        click.echo(", ".join(f"{n} {s}" for s, n in counts.items() if n))
    click.get_current_context().exit(1 if any_failed(checks) else 0)


def _doctor_task(
    app_spec: str | None,
    task_id: str,
    spool_paths: tuple[Path, ...],
    as_json: bool,
    timeout: float,
) -> None:
    import json

    from ..doctor import ACTION_STATES, locate
    from ..errors import Queue2CeleryError

    try:
        where = locate(app_spec, task_id, timeout=timeout, spool_paths=spool_paths or None)
    except Queue2CeleryError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(where.to_dict(), indent=2, ensure_ascii=False, default=str))
    else:
        bad = where.state in ACTION_STATES
        click.echo(f"{click.style(where.state, fg='red' if bad else 'green')}  {where.detail}")
    click.get_current_context().exit(1 if where.state in ACTION_STATES else 0)
