"""The ``queue2celery`` / ``q2c`` command line: parses options, calls one library
function per command and renders its result. The only module that prints or reads argv."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

# Importing the area modules registers their commands on the group; each keeps its heavy
# imports inside the command functions so ``--help`` stays fast.
from . import (  # noqa: F401
    _beat,
    _beat_schedule,
    _compat,
    _demo,
    _doctor,
    _init,
    _migrate,
    _parity,
    _up,
    _worker,
)
from ._group import cli

__all__ = ["cli", "main"]


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

