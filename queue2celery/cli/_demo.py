"""``demo``: the whole migration on the bundled example app, every line fitted to the terminal."""

from __future__ import annotations

import shutil
import sys
import textwrap
from typing import Any

import click

from ._group import cli
from ._parity import _parity_style

_STEPS = 6


def _width() -> int:
    # COLUMNS when set (CI, tests), the terminal's width otherwise, 80 when there is none.
    return max(60, shutil.get_terminal_size((80, 24)).columns)


def _echo(text: str, indent: str = "  ") -> None:
    """One paragraph, wrapped to the terminal (never a 250-character line)."""
    for line in textwrap.wrap(
        text, width=_width(), initial_indent=indent, subsequent_indent=indent + "  "
    ) or [indent]:
        click.echo(line)


def _echo_code(text: str) -> None:
    """Code and diffs are not re-wrapped (that would change them): long lines are cut."""
    width = _width()
    for line in text.splitlines():
        click.echo(line if len(line) <= width else line[: width - 1] + "…")


def _heading(number: int, title: str) -> None:
    click.echo("\n" + click.style(f"[{number}/{_STEPS}] {title}", fg="cyan", bold=True))


def _scan(result: Any) -> None:
    found = f"{len(result.sites)} legacy site(s) in {result.files_scanned} files"
    _heading(1, f"scan: {found}")
    for site in result.sites:
        target = site.target or "(unmapped)"
        _echo(f"{site.path}:{site.line} {site.kind}: {site.queue or '-'} -> {target}")
        for risk in site.risks:
            _echo(f"risk {risk.code}: {risk.message}", indent="      ")


def _changes(number: int, title: str, result: Any) -> None:
    _heading(number, title)
    for change in result.changes:
        if change.added:
            _echo(f"+ new file {change.path}")
    for change in result.changes:
        if not change.added:
            _echo_code(change.diff)


def _parity(number: int, reports: Any, title: str) -> None:
    from ..parity import render_text

    left = sum(len(r.mismatches) for r in reports)
    verdict = "the backends agree" if not left else f"{left} difference(s)"
    _heading(number, f"{title} ({verdict})")
    style = _parity_style if sys.stdout.isatty() else None
    for report in reports:
        click.echo(render_text(report, style, _width()))


def _demo_render(step: str, result: Any) -> None:
    if step == "scan":
        _scan(result)
    elif step == "adopt":
        _changes(2, "step 2: adopt the app's own queues (one line each)", result)
        _echo(
            "The app keeps its queue.Queue, its worker threads and its manager; Q2C_ROLLOUT "
            "decides which puts a Celery worker runs instead."
        )
    elif step == "parity":
        _parity(3, result, "parity: the same workloads on both backends")
    elif step == "fix":
        _changes(4, "fix what parity found (then parity again)", result)
    elif step == "parity_after_fix":
        _parity(4, result, "parity after the fixes")
    elif step == "diff":
        _heading(5, f"rewrite --diff: {len(result.changes)} file(s) would change")
        for change in result.changes:
            _echo_code(change.diff)
    elif step == "rewrite":
        _echo(f"rewrite: {len(result.changes)} file(s) rewritten in the copy", indent="")
    elif step == "check":
        left = len(result.findings)
        _heading(6, f"check: {left} legacy site(s) left" if left else "check: clean")
        for finding in result.findings:
            _echo(str(finding))


_NEXT_STEPS = """\
Next steps on your own project:
  queue2celery scan PATH           find the sites; put the proposed table in pyproject.toml
  adopt(q, run=...)                step 2: CompatQueue(adopt(your_queue, ...), celery_app)
  queue2celery parity WORKLOAD     prove the switch changes nothing (pytest plugin for CI)
  Q2C_ROLLOUT=10 ... 100           move a share of puts to Celery; rollout set '*' 0 undoes it
  queue2celery rewrite PATH --diff then without --diff; queue2celery check PATH in CI
  queue2celery doctor -A APP       when tasks stay PENDING
See MIGRATION.md (中文: MIGRATION.zh-CN.md)."""


def _summary(result: Any) -> None:
    click.echo("\n" + click.style("Summary", bold=True))
    before = sum(len(r.mismatches) for r in result.parity)
    after = sum(len(r.mismatches) for r in result.parity_after_fix)
    kinds = sorted({m.kind for r in result.parity for m in r.mismatches})
    _echo(
        f"{len(result.scan.sites)} legacy sites found; parity: {before} difference(s) between "
        f"the in-process queues and Celery (kinds: {', '.join(kinds) or 'none'}), "
        f"{after} after the fixes."
    )
    if result.stopped:
        _echo(f"stopped: {result.stopped}.")
        return
    left = len(result.check.findings)
    _echo(
        f"{len(result.rewrite.changes)} file(s) rewritten to .delay(); check: "
        + ("clean" if not left else f"{left} site(s) left")
        + (
            " (the task manager stays on its adopted CompatQueue: its Task and ReportRequest "
            "objects cross as themselves there, and plain .delay() could not carry them)"
            if left
            else ""
        )
    )


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

    scan -> adopt (step 2) -> parity (a real Celery worker process) -> fix, parity again ->
    rewrite --diff, rewrite -> check. It never rewrites while parity finds differences.
    """
    import logging

    from ..demo import run_demo
    from ..errors import Queue2CeleryError, redact_url

    ctx = click.get_current_context()
    # The example's handlers fail on purpose; the parity report is where that shows.
    logging.getLogger("queue2celery").addHandler(logging.NullHandler())
    where = "the embedded Redis" if redis_url is None else redact_url(redis_url)
    _echo(f"queue2celery demo: migrating the bundled example app (a copy) on {where}", "")
    try:
        result = run_demo(redis_url=redis_url, keep=keep, on_step=_demo_render)
    except Queue2CeleryError as exc:
        click.echo(f"demo: {exc}", err=True)
        ctx.exit(2)
        return
    _summary(result)
    if keep:
        _echo(f"the migrated copy is in {result.workdir}")
    click.echo("\n" + _NEXT_STEPS)
