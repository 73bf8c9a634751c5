"""``doctor``: the failure checklist."""

from __future__ import annotations

import click

from ._group import cli

# --- doctor, demo --------------------------------------------------------------------

_STATUS_COLORS = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "bright_black"}


@cli.command("doctor")
@click.option(
    "-A", "--app", "app_spec", required=True, metavar="MODULE[:ATTR]", help="The Celery app."
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON (docs/json.md).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds each network wait may take.",
)
def doctor_command(app_spec: str, as_json: bool, timeout: float) -> None:
    """Check the classic failures in order, each PASS/WARN/FAIL/SKIP with its fix.

    \b
    imports, broker, result backend, workers answering, tasks registered on a
    worker, queues with a consumer, messages nobody consumes, the Windows pool,
    pickle in accept_content, Redis eviction policy and persistence.
    Exits 1 if any check FAILs.
    """
    import json

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
