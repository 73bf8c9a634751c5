"""``demo``: the whole migration on the bundled example app."""

from __future__ import annotations

import sys
from typing import Any

import click

from ._group import cli
from ._parity import _parity_style


def _demo_heading(number: int, title: str) -> None:
    click.echo("\n" + click.style(f"[{number}/5] {title}", fg="cyan", bold=True))


def _demo_scan_table(result: Any) -> None:
    rows = [("site", "kind", "legacy object", "Celery task", "risks")]
    for site in result.sites:
        risks = ", ".join(r.code for r in site.risks) or "-"
        where = f"{site.path}:{site.line}"
        rows.append((where, site.kind, site.queue or "-", site.target or "(unmapped)", risks))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        line = line.rstrip()
        click.echo("  " + (click.style(line, bold=True) if index == 0 else line))
    for site in result.sites:
        for risk in site.risks:
            click.echo(f"  - {site.path}:{site.line} {risk.code}: {risk.message}")


def _demo_render(step: str, result: Any) -> None:
    from ..parity import render_text

    if step == "scan":
        found = f"{len(result.sites)} legacy site(s) in {result.files_scanned} files"
        _demo_heading(1, f"scan: {found}, {len(result.handlers)} handler(s)")
        _demo_scan_table(result)
    elif step == "parity":
        verdict = "the backends agree" if result.ok else f"{len(result.mismatches)} difference(s)"
        _demo_heading(2, f"parity: the same workload on both backends ({verdict})")
        color = sys.stdout.isatty()
        click.echo(render_text(result, _parity_style if color else None))
    elif step == "diff":
        _demo_heading(3, f"rewrite --diff: {len(result.changes)} file(s) would change")
        for change in result.changes:
            click.echo(change.diff, nl=False)
    elif step == "rewrite":
        _demo_heading(4, f"rewrite: {len(result.changes)} file(s) rewritten in the copy")
        for change in result.changes:
            click.echo(f"  rewrote {change.path}")
    elif step == "check":
        left = len(result.findings)
        _demo_heading(5, f"check: {left} legacy site(s) left" if left else "check: clean")
        for finding in result.findings:
            click.echo(f"  {finding}")


_DEMO_NEXT_STEPS = """\
Next steps on your own project:
  queue2celery scan PATH                 find the sites; put the proposed table in pyproject.toml
  CompatQueue(task_queue, celery_app)    same put() API on Celery; Q2C_ROLLOUT=legacy|celery|0-100
  queue2celery parity WORKLOAD           prove the switch changes nothing (pytest plugin for CI)
  queue2celery rewrite PATH --diff       then without --diff; queue2celery check PATH in CI
  queue2celery doctor -A APP             when tasks stay PENDING
See MIGRATION.md (中文: MIGRATION.zh-CN.md)."""


@cli.command("demo")
@click.option(
    "--redis-url",
    metavar="URL",
    default=None,
    help="Run parity on this Redis instead of the embedded server (REDIS_URL is not read).",
)
@click.option("--keep", is_flag=True, help="Keep the migrated copy and print where it is.")
def demo_command(redis_url: str | None, keep: bool) -> None:
    """Walk the whole migration on the bundled example app (a temporary copy).

    scan -> parity (a real Celery worker process) -> rewrite --diff -> rewrite -> check.
    """
    import logging

    from ..demo import run_demo
    from ..errors import Queue2CeleryError, redact_url

    ctx = click.get_current_context()
    # The example's handlers fail on purpose; the parity report is where that shows.
    logging.getLogger("queue2celery").addHandler(logging.NullHandler())
    where = "the embedded Redis" if redis_url is None else redact_url(redis_url)
    click.echo(f"queue2celery demo: migrating examples/legacy_app (a copy) on {where}")
    try:
        result = run_demo(redis_url=redis_url, keep=keep, on_step=_demo_render)
    except Queue2CeleryError as exc:
        click.echo(f"demo: {exc}", err=True)
        ctx.exit(2)
        return
    click.echo("\n" + click.style("Summary", bold=True))
    click.echo(
        f"  {len(result.scan.sites)} legacy sites found; parity: "
        f"{len(result.parity.mismatches)} difference(s) between the in-memory queue and Celery "
        f"(kinds: {', '.join(sorted({m.kind for m in result.parity.mismatches})) or 'none'})"
    )
    click.echo(
        f"  {len(result.rewrite.changes)} file(s) rewritten to .delay(); "
        f"check: {'clean' if result.check.ok else f'{len(result.check.findings)} left'}"
    )
    if keep:
        click.echo(f"  the migrated copy is in {result.workdir}")
    click.echo("\n" + _DEMO_NEXT_STEPS)
