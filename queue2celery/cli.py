"""The ``queue2celery`` / ``q2c`` command line: parses options, calls one library
function per command and renders its result. The only module that prints or reads argv."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="queue2celery")
def cli() -> None:
    """Move an in-memory task queue to Celery on Redis, safely and gradually.

    \b
    The path: scan -> compat + rollout -> parity -> rewrite -> check.
    """


# --- migrate: scan, rewrite, check -------------------------------------------------

_PROGRESS_MIN_FILES = 200  # below this a bar only flickers


class _ProgressBar:
    """A click progress bar on stderr, shown only on a terminal and for a large tree."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None

    def total(self, n: int) -> None:
        if n >= _PROGRESS_MIN_FILES and sys.stderr.isatty():
            self.bar = click.progressbar(length=n, label=self.label, file=sys.stderr)
            self.bar.__enter__()

    def step(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _migrate_config(path: Path, config_file: Path | None) -> Any:
    from .errors import ConfigError
    from .migrate import load_config

    try:
        return load_config(path, config_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


_path_arg = click.argument("path", type=click.Path(exists=True, path_type=Path))
_config_opt = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="pyproject.toml with [tool.queue2celery] (default: the nearest one above PATH).",
)
_jobs_opt = click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: the machine's cores).",
)


@cli.command("scan")
@_path_arg
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (DESIGN.md).")
@_config_opt
@_jobs_opt
def scan_command(path: Path, as_json: bool, config_file: Path | None, jobs: int | None) -> None:
    """Find legacy enqueue sites, handlers, risky payloads and files that do not parse."""
    import json

    from .migrate import proposed_tables, scan

    config = _migrate_config(path, config_file)
    bar = _ProgressBar("scanning")
    try:
        result = scan(path, config, jobs=jobs, progress=bar.step, on_total=bar.total)
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return
    for site in result.sites:
        target = site.target or "(unmapped)"
        click.echo(f"{site.path}:{site.line}:{site.col}: {site.kind} {site.queue} -> {target}")
        for risk in site.risks:
            click.echo(f"    risk {risk.code}: {risk.message}")
    for h in result.handlers:
        retries = ", ".join(
            f"{key}={value}"
            for key, value in (("max_retries", h.max_retries), ("retry_delay", h.retry_delay))
            if value is not None
        )
        retries = f" ({retries})" if retries else ""
        where = f"{h.path}:{h.line}:{h.col}"
        click.echo(f"{where}: handler {h.name} on {h.queue} -> {h.function or '?'}{retries}")
        for risk in h.risks:
            click.echo(f"    risk {risk.code}: {risk.message}")
    for error in result.errors:
        click.echo(f"{error.path}: error: {error.message}")
    click.echo(
        f"{len(result.sites)} site(s), {len(result.handlers)} handler(s), "
        f"{len(result.errors)} error(s); "
        f"{result.files_scanned} file(s) scanned, {result.files_parsed} parsed"
    )
    proposal = proposed_tables(
        result.unmapped("queue_put") + result.unmapped("manager_add_task"),
        result.unmapped("background_task"),
    )
    if proposal:
        click.echo("\nProposed mapping for pyproject.toml (replace CHANGE_ME):\n" + proposal)


@cli.command("rewrite")
@_path_arg
@click.option("--diff", is_flag=True, help="Print a unified diff and write nothing.")
@_jobs_opt
@_config_opt
def rewrite_command(path: Path, diff: bool, jobs: int | None, config_file: Path | None) -> None:
    """Turn mapped legacy calls into <task>.delay() (libcst codemods)."""
    from .migrate import rewrite

    config = _migrate_config(path, config_file)
    bar = _ProgressBar("rewriting")
    try:
        result = rewrite(
            path, config, dry_run=diff, jobs=jobs, progress=bar.step, on_total=bar.total
        )
    finally:
        bar.close()
    for change in result.changes:
        if diff:
            click.echo(change.diff, nl=False)
        else:
            click.echo(f"rewrote {change.path}")
    for rel, message in result.warnings:
        click.echo(f"{rel}: warning: {message}", err=True)
    for error in result.errors:
        click.echo(f"{error.path}: error: {error.message} (skipped)", err=True)
    verb = "would change" if diff else "changed"
    click.echo(
        f"{len(result.changes)} file(s) {verb}, {len(result.errors)} error(s), "
        f"{result.files_scanned} file(s) scanned",
        err=diff,
    )
    click.get_current_context().exit(0 if result.ok else 1)


@cli.command("check")
@_path_arg
@_config_opt
@_jobs_opt
def check_command(path: Path, config_file: Path | None, jobs: int | None) -> None:
    """List remaining legacy sites as path:line:col: Q2Cnnn message; exit 1 if any."""
    from .migrate import check

    config = _migrate_config(path, config_file)
    bar = _ProgressBar("checking")
    try:
        result = check(path, config, jobs=jobs, progress=bar.step, on_total=bar.total)
    finally:
        bar.close()
    for finding in result.findings:
        click.echo(str(finding))
    click.get_current_context().exit(0 if result.ok else 1)


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
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
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
    from pathlib import Path

    from .errors import HarnessError
    from .parity import render_text
    from .parity import run as run_parity

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
        color = sys.stdout.isatty()
        click.echo(render_text(report, _parity_style if color else None))
    if junit_xml is not None:
        try:
            Path(junit_xml).write_text(report.to_junit_xml(), encoding="utf-8")
        except OSError as exc:
            click.echo(f"parity: cannot write --junit-xml {junit_xml!r}: {exc}", err=True)
            ctx.exit(2)
            return
    ctx.exit(0 if report.ok else 1)


# --- compat: rollout, spool ----------------------------------------------------------


def _compat_redis_url(explicit: str | None) -> str:
    from .celery_tasks import CeleryConfig

    return explicit or CeleryConfig.from_env().broker_url


_REDIS_URL_OPTION = click.option(
    "--redis-url",
    metavar="URL",
    default=None,
    help="The broker's Redis (default: CELERY_BROKER_URL, else REDIS_URL, else localhost).",
)
_NAMESPACE_OPTION = click.option(
    "--namespace",
    default="q2c",
    show_default=True,
    help="Key prefix of the override and counters (CompatQueue(namespace=...)).",
)


def _compat_fail(exc: Exception, code: int = 1) -> None:
    click.echo(f"error: {exc}", err=True)
    click.get_current_context().exit(code)


@cli.group("rollout")
def rollout_group() -> None:
    """The live rollout override: running processes follow it within seconds."""


@rollout_group.command("set")
@click.argument("task")
@click.argument("percentage")
@_REDIS_URL_OPTION
@_NAMESPACE_OPTION
def rollout_set_command(task: str, percentage: str, redis_url: str | None, namespace: str) -> None:
    """Send PERCENTAGE (0-100, legacy, celery) of TASK's puts to Celery.

    TASK '*' applies to every task and drops per-task overrides:
    `rollout set '*' 0` is the kill switch.
    """
    from .compat import rollout_set
    from .errors import BrokerUnavailable, ConfigError

    try:
        pct = rollout_set(_compat_redis_url(redis_url), task, percentage, namespace=namespace)
    except ConfigError as exc:
        _compat_fail(exc, 2)
        return
    except BrokerUnavailable as exc:
        _compat_fail(exc)
        return
    click.echo(f"override {task} = {pct:g}% to Celery (processes follow within ~2 s)")


@rollout_group.command("clear")
@click.argument("task", required=False)
@click.option("--counts", is_flag=True, help="Also reset the put counters.")
@_REDIS_URL_OPTION
@_NAMESPACE_OPTION
def rollout_clear_command(
    task: str | None, counts: bool, redis_url: str | None, namespace: str
) -> None:
    """Remove TASK's override (every override without TASK): the configured value applies."""
    from .compat import rollout_clear
    from .errors import BrokerUnavailable

    try:
        rollout_clear(_compat_redis_url(redis_url), task, namespace=namespace, counts=counts)
    except BrokerUnavailable as exc:
        _compat_fail(exc)
        return
    click.echo(f"cleared the override of {task}" if task else "cleared every override")


@rollout_group.command("show")
@_REDIS_URL_OPTION
@_NAMESPACE_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rollout_show_command(redis_url: str | None, namespace: str, as_json: bool) -> None:
    """Per task: the configured share, the override, and puts counted each way."""
    import json

    from .compat import rollout_show
    from .errors import BrokerUnavailable, ConfigError

    try:
        report = rollout_show(_compat_redis_url(redis_url), namespace=namespace)
    except (BrokerUnavailable, ConfigError) as exc:
        _compat_fail(exc)
        return
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2, ensure_ascii=False))
        return
    local = report.local_spec or "unset (every put to Celery)"
    click.echo(f"namespace {report.namespace}; Q2C_ROLLOUT in this shell: {local}")
    if not report.rows:
        click.echo("no task has reported, been overridden or counted yet")
        return
    width = max(4, *(len(row.task) for row in report.rows))
    head = f"{'TASK':<{width}}  CONFIGURED  OVERRIDE  CELERY  LEGACY  FALLBACK"
    click.echo(head)
    for row in report.rows:
        configured = f"{row.configured}%" if row.configured is not None else "-"
        override = f"{row.override:g}%" if row.override is not None else "-"
        c = row.counts
        click.echo(
            f"{row.task:<{width}}  {configured:>10}  {override:>8}  {c.get('celery', 0):>6}  "
            f"{c.get('legacy', 0):>6}  {c.get('fallback', 0):>8}"
        )


@cli.group("spool")
def spool_group() -> None:
    """The local outbox kept while the broker was down (on_broker_error='spool')."""


@spool_group.command("replay")
@click.option(
    "--path",
    "spool_path",
    default=None,
    metavar="FILE",
    help="The spool file (default: Q2C_SPOOL_PATH, else ./.q2c-spool.sqlite3).",
)
@_REDIS_URL_OPTION
def spool_replay_command(spool_path: str | None, redis_url: str | None) -> None:
    """Send every spooled task once. Exit 1 if the broker is still down."""
    import os

    from .celery_tasks import CeleryConfig
    from .compat import spool_replay
    from .compat.spool import DEFAULT_SPOOL_PATH, SPOOL_ENV_VAR
    from .errors import BrokerUnavailable, ConfigError

    path = spool_path or os.environ.get(SPOOL_ENV_VAR) or DEFAULT_SPOOL_PATH
    if not os.path.exists(path):
        click.echo(f"no spool at {path!r}: nothing to replay")
        return
    url = _compat_redis_url(redis_url)
    backend = None if redis_url else CeleryConfig.from_env().result_backend
    try:
        result = spool_replay(url, path, result_backend=backend)
    except BrokerUnavailable as exc:
        _compat_fail(exc)
        return
    except ConfigError as exc:
        _compat_fail(exc, 2)
        return
    click.echo(
        f"sent {result.sent} spooled task(s); {result.already_sent} had been sent already; "
        f"{result.remaining} left"
    )


# --- celery_tasks: worker ------------------------------------------------------------


@cli.command(
    "worker",
    # -A is parsed by worker.split_app_option, everything else goes to Celery as given;
    # only --help is ours (a "-h" inside e.g. "-Qhigh" must stay Celery's).
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": ["--help"],
    },
    options_metavar="-A MODULE[:ATTR] [CELERY WORKER OPTIONS]...",
)
@click.pass_context
def worker_command(ctx: click.Context) -> None:
    """Start a Celery worker for the app given with -A MODULE[:ATTR] (required).

    \b
    Adds --pool=solo on Windows (no fork there) unless you choose a pool
    (-P/--pool or CELERY_WORKER_POOL); elsewhere Celery's default pool.
    Every other option is passed to `celery worker` unchanged, e.g.
      queue2celery worker -A myproject.celery_app:app --loglevel=INFO -Q default
    Exits with Celery's exit code.
    """
    import os

    from .celery_tasks.worker import run_worker, split_app_option, worker_argv
    from .errors import ConfigError, WorkerStartError

    try:
        app_spec, rest = split_app_option(ctx.args)
        argv = worker_argv(app_spec, rest, environ=os.environ)
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    try:
        code = run_worker(argv)
    except WorkerStartError as exc:
        raise click.ClickException(str(exc)) from exc
    ctx.exit(code)


# --- doctor, demo --------------------------------------------------------------------

_STATUS_COLORS = {"PASS": "green", "WARN": "yellow", "FAIL": "red", "SKIP": "bright_black"}


@cli.command("doctor")
@click.option(
    "-A", "--app", "app_spec", required=True, metavar="MODULE[:ATTR]", help="The Celery app."
)
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
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

    from .doctor import any_failed, report_json, run_doctor

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
    from .parity import render_text

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

    from .demo import run_demo
    from .errors import Queue2CeleryError, redact_url

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


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (testable without a subprocess)."""
    try:
        # Without standalone mode click *returns* the code a command passed to ctx.exit(n).
        result = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="queue2celery",
            standalone_mode=False,
        )
        if isinstance(result, int):
            return result
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 130
    return 0


def _entry() -> None:  # pragma: no cover
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    _entry()
