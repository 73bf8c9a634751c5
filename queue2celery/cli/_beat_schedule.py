"""``beat-schedule``: a reviewed Celery Beat schedule from the periodic work scan finds."""

from __future__ import annotations

from pathlib import Path

import click

from ._group import cli
from ._migrate import ConfigProblem, _config_opt, _jobs_opt, _migrate_config, _path_arg


@cli.command("beat-schedule")
@_path_arg
@click.option(
    "--write",
    "module",
    default=None,
    help="Write the schedule to this module (dotted, under PATH; or a .py path) "
    "instead of printing it.",
)
@click.option(
    "--app",
    "app_ref",
    default=None,
    help="MODULE:ATTR of the project's Celery app (default: a new app from REDIS_URL).",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --write: replace the module even if it schedules functions scan no longer finds.",
)
@_config_opt
@_jobs_opt
def beat_schedule_command(
    path: Path,
    module: str | None,
    app_ref: str | None,
    force: bool,
    config_file: Path | None,
    jobs: int | None,
) -> None:
    """Print (or --write) a Beat schedule for the periodic jobs scan finds under PATH."""
    from ..errors import ConfigError
    from ..migrate import scan
    from ..migrate.beat_schedule import (
        dropped_functions,
        generate_schedule,
        module_path,
        write_schedule,
    )

    config = _migrate_config(path, config_file)
    result = scan(path, config, jobs=jobs)
    try:
        target = module_path(path, module) if module else None
        dotted = module if module and not module.endswith(".py") else None
        generated = generate_schedule(result.periodic, app=app_ref, module=dotted)
        if target is not None:
            lost = [] if force else dropped_functions(target, generated.source)
            if lost:
                raise ConfigError(
                    f"{str(target)!r} schedules {', '.join(lost)}, which scan no longer finds "
                    "(did rewrite remove its decorator?); pass --force to drop it"
                )
            write_schedule(target, generated.source)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from exc
    if target is None:
        click.echo(generated.source, nl=False)
    else:
        click.echo(f"wrote {target}")
    for job in generated.to_review:
        reasons = "; ".join(job.needs_review) or "no function to call"
        click.echo(f"{job.path}:{job.line}: review {job.name}: {reasons}", err=True)
    click.echo(
        f"{len(generated.scheduled)} job(s) scheduled, {len(generated.to_review)} "
        "left commented out for review",
        err=True,
    )
