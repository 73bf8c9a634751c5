"""``init``: write the Celery side of the app from what scan found."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import cli
from ._migrate import ConfigProblem, _config_opt, _jobs_opt, _migrate_config, _path_arg


@cli.command("init")
@_path_arg
@click.option("--package", metavar="PKG", help="The package the Celery side goes in.")
@click.option("--app", "app_spec", metavar="MODULE:ATTR", help="The Celery app to reuse.")
@click.option(
    "--module",
    "module_name",
    default="celery_tasks",
    show_default=True,
    help="Name of the tasks module init writes inside PKG.",
)
@click.option("--diff", is_flag=True, help="Print what would change and write nothing.")
@click.option("--force", is_flag=True, help="Overwrite a generated region edited by hand.")
@_config_opt
@_jobs_opt
def init_command(
    path: Path,
    package: str | None,
    app_spec: str | None,
    module_name: str,
    diff: bool,
    force: bool,
    config_file: Path | None,
    jobs: int | None,
) -> None:
    """Write the Celery side scan's findings call for: the adopt wiring of each queue, a task
    per background function, and the [tool.queue2celery] tables. Exit 1 while stubs remain
    or when a generated region was edited by hand."""
    from ..errors import ConfigError
    from ..migrate.init import init

    config = _migrate_config(path, config_file)
    try:
        result = init(
            path,
            config,
            package=package,
            app=app_spec,
            module_name=module_name,
            force=force,
            dry_run=diff,
            jobs=jobs,
        )
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from exc
    verb = "would write" if diff else "wrote"
    for written in result.written:
        click.echo(f"{verb} {written.path}{' (new)' if written.created else ''}")
        if diff:
            click.echo(written.diff, nl=False)
    if not result.written:
        click.echo("nothing to change: the Celery side is up to date")
    for item in result.reused:
        click.echo(f"reused {item}")
    for stub in result.stubs:
        click.echo(f"stub to fill in: {stub}")
    for name, reason in result.candidates:
        click.echo(f"not done: {name}: {reason}")
    for name, why in result.local:
        click.echo(f"kept local (no task, not mapped): {name}: {why}")
    for name, queues in result.covered:
        click.echo(
            f"covered: {name} puts onto {queues}: that queue's mapping covers its callers "
            "(rewrite changes the put inside it); nothing to map for it"
        )
    for item in result.kept:
        click.echo(f"kept your mapping: {item}")
    for error in result.errors:
        click.echo(f"{error.path}: error: {error.message}")
    if result.conflict is not None:
        click.echo(
            f"the generated region of {result.module} was edited by hand; init left it as it "
            "is (rerun with --force to overwrite). What init would write:"
        )
        click.echo(result.conflict, nl=False)
    click.echo(f"worker: queue2celery worker -A {result.module}:celery_app")
    click.get_current_context().exit(0 if result.ok else 1)
