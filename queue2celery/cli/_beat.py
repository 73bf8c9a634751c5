"""``beat``: Celery beat with one scheduler at a time (celery-redbeat's lock)."""

from __future__ import annotations

import click

from ._group import cli

# --- celery_tasks: beat --------------------------------------------------------------


def _take_option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    # Parsed by hand like -A: everything else goes to celery beat as given.
    rest: list[str] = []
    value: str | None = None
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        if arg == name:
            if i + 1 >= len(args):
                raise click.UsageError(f"{name} needs a number of seconds")
            value = args[i + 1]
            i += 2
            continue
        if arg.startswith(name + "="):
            value = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return value, rest


def _seconds(name: str, raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        raise click.UsageError(f"{name} must be a number of seconds, got {raw!r}") from None


@cli.command(
    "beat",
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": ["--help"],
    },
    options_metavar="-A MODULE[:ATTR] [--lock-timeout S] [CELERY BEAT OPTIONS]...",
)
@click.pass_context
def beat_command(ctx: click.Context) -> None:
    """Run Celery beat for the app given with -A, one scheduler at a time.

    \b
    The schedule is kept in Redis (celery-redbeat); the first beat takes a lock
    and ticks, any other waits and takes over when the leader dies, within
    --lock-timeout (default 25 s) + --max-interval (default 5 s).
      queue2celery beat -A myproject.celery_app:app
      queue2celery beat -A myproject.celery_app:app --lock-timeout 10 --max-interval 2
    Every other option goes to `celery beat`. Exits with Celery's exit code.
    """
    import os

    from ..celery_tasks.beat import BeatOptions, beat_argv
    from ..celery_tasks.worker import run_worker, split_app_option
    from ..errors import ConfigError, WorkerStartError

    try:
        app_spec, rest = split_app_option(ctx.args)
        lock_raw, rest = _take_option(rest, "--lock-timeout")
        interval_raw, _ = _take_option(list(rest), "--max-interval")
        options = BeatOptions(
            lock_timeout=_seconds("--lock-timeout", lock_raw),
            max_interval=_seconds("--max-interval", interval_raw),
        )
        env = options.env()
        argv = beat_argv(app_spec, rest)
    except ConfigError as exc:
        raise click.UsageError(str(exc), ctx) from exc
    os.environ.update(env)
    try:
        code = run_worker(argv)
    except WorkerStartError as exc:
        raise click.ClickException(str(exc)) from exc
    ctx.exit(code)
