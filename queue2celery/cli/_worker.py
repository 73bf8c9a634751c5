"""``worker``: a Celery worker with the right pool for the platform."""

from __future__ import annotations

import click

from ._group import cli

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
    # "-h" is help here as everywhere, but only as a word of its own: click would also take
    # the h of a Celery option such as "-Qhigh" for it.
    before_dashes = ctx.args[: ctx.args.index("--")] if "--" in ctx.args else ctx.args
    if "-h" in before_dashes:
        click.echo(ctx.get_help())
        ctx.exit(0)

    import os

    from ..celery_tasks.worker import run_worker, split_app_option, worker_argv
    from ..errors import ConfigError, WorkerStartError

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
