"""The ``queue2celery`` / ``q2c`` command line: parses options, calls one library
function per command and renders its result. The only module that prints or reads argv."""

from __future__ import annotations

import sys
from collections.abc import Sequence

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


# --- parity ------------------------------------------------------------------------


# --- compat: rollout, spool ----------------------------------------------------------


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
    """Start a Celery worker for the app MODULE[:ATTR] (``-A``, required).

    \b
    Adds --pool=solo on Windows (no fork there) unless you choose a pool
    (-P/--pool or CELERY_WORKER_POOL); elsewhere Celery's default pool.
    Every other option is passed to `celery worker` unchanged, e.g.
      queue2celery worker -A myproject.celery_app:app --loglevel=INFO -Q default
    Exits with Celery's exit code.
    """
    import os

    from .celery_tasks.worker import run_worker, split_app_option, worker_argv
    from .errors import ConfigError

    try:
        app_spec, rest = split_app_option(ctx.args)
        argv = worker_argv(app_spec, rest, environ=os.environ)
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    ctx.exit(run_worker(argv))


# --- doctor, demo --------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (testable without a subprocess)."""
    try:
        cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="queue2celery",
            standalone_mode=False,
        )
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
