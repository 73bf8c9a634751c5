"""``up``: the whole stack for local development, each part after the previous is ready."""

from __future__ import annotations

import click

from ._group import cli

# --- up ------------------------------------------------------------------------------


@cli.command("up")
@click.option(
    "-A",
    "--app",
    "app_spec",
    required=True,
    metavar="MODULE[:ATTR]",
    help="The Celery app, as for `celery -A`.",
)
@click.option("--api", metavar="MODULE:APP", help="An ASGI app to serve with uvicorn, last.")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="The API's port."
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The API's address.")
@click.option(
    "--redis-url",
    metavar="URL",
    help="Redis to use; 'embedded' for the embedded server. Default: REDIS_URL, "
    "else redis://localhost:6379/0 if it answers, else the embedded server.",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Celery worker processes (solo pool on Windows).",
)
@click.option("--no-beat", is_flag=True, help="Do not run beat (periodic tasks).")
@click.option("--lock-timeout", type=float, help="beat's lock TTL in seconds (default 25).")
@click.option(
    "--ready-timeout",
    type=float,
    default=60.0,
    show_default=True,
    help="Seconds each part may take to become ready.",
)
def up_command(
    app_spec: str,
    api: str | None,
    port: int,
    host: str,
    redis_url: str | None,
    workers: int,
    no_beat: bool,
    lock_timeout: float | None,
    ready_timeout: float,
) -> None:
    """Run Redis, the worker(s), beat and the API, each once the previous one is ready.

    \b
    Ready means: Redis answers PING, each worker answers a control ping, beat
    holds the scheduler lock, the API answers HTTP. One log stream, each line
    prefixed with its process. Ctrl-C (or SIGTERM) stops everything in reverse
    order. A process that exits stops the stack; up then exits with its code.
      queue2celery up -A myproject.celery_app:app --api myproject.main:app
    """
    import signal
    import sys
    import threading

    from ..celery_tasks.beat import BeatOptions
    from ..errors import ConfigError
    from ..up import UpSpec, run_up

    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    spec = UpSpec(
        app=app_spec,
        api=api,
        port=port,
        host=host,
        redis_url=redis_url,
        workers=workers,
        beat=not no_beat,
        ready_timeout=ready_timeout,
        beat_options=BeatOptions(lock_timeout=lock_timeout),
    )
    try:
        result = run_up(
            spec,
            write=lambda line: click.echo(line),
            color=sys.stdout.isatty(),
            stopping=stopping,
        )
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if result.exit_code:
        click.echo(f"Error: {result.message}", err=True)
    click.get_current_context().exit(result.exit_code)
