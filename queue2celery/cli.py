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
