"""``scan``, ``rewrite``, ``check``: the static side."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ._group import cli

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


class ConfigProblem(click.ClickException):
    """Bad configuration or input: one line on stderr, exit 2 (1 means findings)."""

    exit_code = 2


def _migrate_config(path: Path, config_file: Path | None) -> Any:
    from ..errors import ConfigError
    from ..migrate import load_config

    try:
        return load_config(path, config_file)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from exc


_path_arg = click.argument("path", type=click.Path(exists=True, path_type=Path))
_config_opt = click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="pyproject.toml with [tool.queue2celery] (default: the nearest one above PATH).",
)
_cache_opt = click.option(
    "--no-cache",
    "no_cache",
    is_flag=True,
    help="Analyse every file again instead of reusing .q2c_cache/ (beside pyproject.toml).",
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
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document (docs/json.md).")
@_config_opt
@_jobs_opt
@_cache_opt
def scan_command(
    path: Path, as_json: bool, config_file: Path | None, jobs: int | None, no_cache: bool
) -> None:
    """Find legacy enqueue sites, candidates, handlers, risky payloads and files that do
    not parse; exit 1 if a file could not be read or parsed."""
    import json

    from ..migrate import proposed_tables, scan

    config = _migrate_config(path, config_file)
    bar = _ProgressBar("scanning")
    try:
        result = scan(
            path,
            config,
            jobs=jobs,
            progress=bar.step,
            on_total=bar.total,
            use_cache=not no_cache,
        )
    finally:
        bar.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        click.get_current_context().exit(0 if result.ok else 1)
    for site in result.sites:
        target = site.target or "(unmapped)"
        via = f" (via {site.via})" if site.via else ""
        click.echo(f"{site.path}:{site.line}:{site.col}: {site.kind} {site.queue}{via} -> {target}")
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
    from ..migrate._periodic_model import periodic_lines

    for job in result.periodic:
        click.echo("\n".join(periodic_lines(job)))
    for c in result.candidates:
        click.echo(f"{c.path}:{c.line}:{c.col}: candidate {c.receiver}.{c.method}(): {c.reason}")
    for error in result.errors:
        click.echo(f"{error.path}: error: {error.message}")
    click.echo(
        f"{len(result.sites)} site(s), {len(result.candidates)} candidate(s), "
        f"{len(result.handlers)} handler(s), {len(result.periodic)} periodic job(s), "
        f"{len(result.errors)} error(s); "
        f"{result.files_scanned} file(s) scanned: {result.files_parsed} analysed in depth, "
        f"{result.files_skipped} skipped by the text filter (they cannot hold a site), "
        f"{len(result.errors)} could not be read or parsed"
    )
    proposal = proposed_tables(
        [
            q
            for kind in ("queue_put", "manager_add_task", "manager_enqueue")
            for q in result.unmapped(kind)
        ],
        [
            q
            for kind in ("background_task", "create_task", "thread_start", "executor_submit")
            for q in result.unmapped(kind)
        ],
    )
    if proposal:
        click.echo(
            "\nProposed mapping for pyproject.toml (replace CHANGE_ME, or let "
            "`queue2celery init` write the tasks and this table):\n" + proposal
        )
    click.get_current_context().exit(0 if result.ok else 1)


@cli.command("rewrite")
@_path_arg
@click.option("--diff", is_flag=True, help="Print a unified diff and write nothing.")
@_jobs_opt
@_config_opt
def rewrite_command(path: Path, diff: bool, jobs: int | None, config_file: Path | None) -> None:
    """Turn mapped legacy calls into <task>.delay() (libcst codemods)."""
    from ..migrate import rewrite

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
            click.echo(change.diff, nl=not change.diff.endswith("\n"))
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
@_cache_opt
def check_command(path: Path, config_file: Path | None, jobs: int | None, no_cache: bool) -> None:
    """List remaining legacy sites as path:line:col: Q2Cnnn message; exit 1 if any."""
    from ..migrate import check

    config = _migrate_config(path, config_file)
    bar = _ProgressBar("checking")
    try:
        result = check(
            path,
            config,
            jobs=jobs,
            progress=bar.step,
            on_total=bar.total,
            use_cache=not no_cache,
        )
    finally:
        bar.close()
    for finding in sorted((*result.findings, *result.warnings), key=lambda f: (f.path, f.line)):
        click.echo(str(finding))
    click.get_current_context().exit(0 if result.ok else 1)
