"""``parity``: one workload through both backends."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._group import cli

# --- parity ------------------------------------------------------------------------

_PARITY_COLORS = {"ok": "green", "bad": "red", "head": "cyan", "dim": None}


def _parity_style(text: str, role: str) -> str:
    if role == "dim":
        return click.style(text, dim=True)
    return click.style(text, fg=_PARITY_COLORS.get(role), bold=role == "head")


@cli.command("parity")
@click.argument("workload")
@click.option(
    "--redis-url",
    metavar="URL",
    default=None,
    help="Run on this Redis, in a key space deleted afterwards (default: an embedded server; "
    "REDIS_URL is never read).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (docs/json.md).")
@click.option(
    "--junit-xml",
    "junit_xml",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report as JUnit XML for CI.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="Seconds each backend's tasks get to finish after the workload returns.",
)
def parity_command(
    workload: str, redis_url: str | None, as_json: bool, junit_xml: str | None, timeout: float
) -> None:
    """Run WORKLOAD (a .py file or dotted module) on both backends and compare them.

    Exit 0 when they agree, 1 on mismatches, 2 when the harness could not run.
    """
    import json
    import logging
    import os

    from ..errors import HarnessError
    from ..parity import render_text
    from ..parity import run as run_parity

    ctx = click.get_current_context()
    # Handler failures and payload drift are what the report is about; without this the
    # queues' own log lines would land on stderr too (Python's last-resort handler).
    logging.getLogger("queue2celery").addHandler(logging.NullHandler())
    # A dotted workload module is found from the current directory, as with ``python -m``.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        report = run_parity(workload, redis_url=redis_url, timeout=timeout)
    except HarnessError as exc:
        click.echo(f"parity: the harness could not run: {exc}", err=True)
        ctx.exit(2)
        return
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        import shutil

        color = sys.stdout.isatty()
        width = shutil.get_terminal_size().columns if color else None
        click.echo(render_text(report, _parity_style if color else None, width))
    if junit_xml is not None:
        try:
            Path(junit_xml).write_text(report.to_junit_xml(), encoding="utf-8")
        except OSError as exc:
            click.echo(f"parity: cannot write --junit-xml {junit_xml!r}: {exc}", err=True)
            ctx.exit(2)
            return
    ctx.exit(0 if report.ok else 1)
