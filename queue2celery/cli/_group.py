"""The root click group; each area adds its commands in its own module."""

from __future__ import annotations

import click

from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="queue2celery")
def cli() -> None:
    """Move an in-memory task queue to Celery on Redis, safely and gradually.

    \b
    The path: scan -> compat + rollout -> parity -> rewrite -> check.
    """
