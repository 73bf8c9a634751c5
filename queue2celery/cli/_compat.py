"""``rollout`` and ``spool``: the live rollout override and the outbox."""

from __future__ import annotations

import click

from ._group import cli

# --- compat: rollout, spool ----------------------------------------------------------


def _compat_redis_url(explicit: str | None) -> str:
    from ..celery_tasks import CeleryConfig

    return explicit or CeleryConfig.from_env().broker_url


_REDIS_URL_OPTION = click.option(
    "--redis-url",
    metavar="URL",
    default=None,
    help="The broker's Redis (default: CELERY_BROKER_URL, else REDIS_URL, else localhost).",
)
_NAMESPACE_OPTION = click.option(
    "--namespace",
    default="q2c",
    show_default=True,
    help="Key prefix of the override and counters (CompatQueue(namespace=...)).",
)


def _compat_fail(exc: Exception, code: int = 1) -> None:
    click.echo(f"error: {exc}", err=True)
    click.get_current_context().exit(code)


_APP_OPTION = click.option(
    "-A",
    "--app",
    "app_spec",
    metavar="MODULE[:ATTR]",
    default=None,
    help="Also accept the tasks this Celery app registers as known task names, and use "
    "its global_keyprefix.",
)


_PREFIX_OPTION = click.option(
    "--key-prefix",
    "key_prefix",
    default=None,
    metavar="PREFIX",
    help="The app's global_keyprefix (broker_transport_options), if it sets one; "
    "with -A it is read from the app.",
)


def _key_prefix(explicit: str | None, app_spec: str | None) -> str:
    """The prefix every rollout key starts with: as given, else the -A app's, else none."""
    if explicit is not None or app_spec is None:
        return explicit or ""
    from ..doctor import load_app

    options = load_app(app_spec).conf.broker_transport_options or {}
    return str(options.get("global_keyprefix") or "")


def _app_tasks(app_spec: str | None) -> list[str]:
    """The task names the Celery app registers (Celery's own ``celery.*`` left out)."""
    if app_spec is None:
        return []
    from ..doctor import load_app
    from ..errors import ConfigError

    app = load_app(app_spec)
    # The modules a worker imports (imports=, include=) register the app's tasks, as doctor does.
    try:
        app.loader.import_default_modules()
    except Exception as exc:  # whatever the user's import raises: one line, exit 2
        raise ConfigError(
            f"-A {app_spec}: importing the app's task modules failed: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    return sorted(name for name in app.tasks.keys() if not name.startswith("celery."))


@cli.group("rollout")
def rollout_group() -> None:
    """The live rollout override: running processes follow it within seconds."""


# A negative percentage ("-5") is not an option: it reaches the range check, which says
# what to use ("-- -5" works too, as usual).
@rollout_group.command("set", context_settings={"ignore_unknown_options": True})
@click.argument("task")
@click.argument("percentage")
@_REDIS_URL_OPTION
@_NAMESPACE_OPTION
@_APP_OPTION
@_PREFIX_OPTION
@click.option("--force", is_flag=True, help="Set it even if no process knows TASK yet.")
def rollout_set_command(
    task: str,
    percentage: str,
    redis_url: str | None,
    namespace: str,
    app_spec: str | None,
    key_prefix: str | None,
    force: bool,
) -> None:
    """Send PERCENTAGE (0-100, legacy, celery) of TASK's puts to Celery.

    TASK '*' applies to every task and drops per-task overrides:
    `rollout set '*' 0` is the kill switch.

    TASK must be known: reported or counted by a running CompatQueue in this namespace
    (see `rollout show`), already overridden, or registered by the app given with -A.
    An unknown name is an error that lists the known ones; --force sets it anyway
    (e.g. before the processes that use it are deployed).
    """
    from ..compat import rollout_set
    from ..errors import BrokerUnavailable, ConfigError

    try:
        pct = rollout_set(
            _compat_redis_url(redis_url),
            task,
            percentage,
            namespace=namespace,
            app_tasks=_app_tasks(app_spec) if not force else (),
            force=force,
            prefix=_key_prefix(key_prefix, app_spec),
        )
    except ConfigError as exc:
        _compat_fail(exc, 2)
        return
    except BrokerUnavailable as exc:
        _compat_fail(exc)
        return
    click.echo(f"override {task} = {pct:g}% to Celery (processes follow within ~2 s)")


@rollout_group.command("clear")
@click.argument("task", required=False)
@click.option("--counts", is_flag=True, help="Also reset the put counters.")
@_REDIS_URL_OPTION
@_NAMESPACE_OPTION
@_APP_OPTION
@_PREFIX_OPTION
def rollout_clear_command(
    task: str | None,
    counts: bool,
    redis_url: str | None,
    namespace: str,
    app_spec: str | None,
    key_prefix: str | None,
) -> None:
    """Remove TASK's override (every override without TASK): the configured value applies.

    TASK must be known, as for `rollout set`: an unknown name is an error that lists the
    known ones.
    """
    from ..compat import rollout_clear
    from ..errors import BrokerUnavailable, ConfigError

    try:
        rollout_clear(
            _compat_redis_url(redis_url),
            task,
            namespace=namespace,
            counts=counts,
            app_tasks=_app_tasks(app_spec) if task else (),
            prefix=_key_prefix(key_prefix, app_spec),
        )
    except ConfigError as exc:
        _compat_fail(exc, 2)
        return
    except BrokerUnavailable as exc:
        _compat_fail(exc)
        return
    click.echo(f"cleared the override of {task}" if task else "cleared every override")


@rollout_group.command("show")
@_REDIS_URL_OPTION
@_NAMESPACE_OPTION
@_APP_OPTION
@_PREFIX_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def rollout_show_command(
    redis_url: str | None,
    namespace: str,
    app_spec: str | None,
    key_prefix: str | None,
    as_json: bool,
) -> None:
    """Per task: the configured share, the override, and puts counted each way."""
    import json

    from ..compat import rollout_show
    from ..errors import BrokerUnavailable, ConfigError

    try:
        report = rollout_show(
            _compat_redis_url(redis_url),
            namespace=namespace,
            prefix=_key_prefix(key_prefix, app_spec),
        )
    except (BrokerUnavailable, ConfigError) as exc:
        _compat_fail(exc)
        return
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        return
    local = report.local_spec or "unset (every put to Celery)"
    click.echo(f"namespace {report.namespace}; Q2C_ROLLOUT in this shell: {local}")
    if not report.rows:
        click.echo("no task has reported, been overridden or counted yet")
        return
    width = max(4, *(len(row.task) for row in report.rows))
    head = f"{'TASK':<{width}}  CONFIGURED  OVERRIDE  CELERY  LEGACY  FALLBACK"
    click.echo(head)
    for row in report.rows:
        configured = f"{row.configured}%" if row.configured is not None else "-"
        override = f"{row.override:g}%" if row.override is not None else "-"
        c = row.counts
        click.echo(
            f"{row.task:<{width}}  {configured:>10}  {override:>8}  {c.get('celery', 0):>6}  "
            f"{c.get('legacy', 0):>6}  {c.get('fallback', 0):>8}"
        )


@cli.group("spool")
def spool_group() -> None:
    """The local outbox kept while the broker was down (on_broker_error='spool')."""


@spool_group.command("replay")
@click.option(
    "--path",
    "spool_path",
    default=None,
    metavar="FILE",
    help="The spool file (default: Q2C_SPOOL_PATH, else ./.q2c-spool.sqlite3).",
)
@_REDIS_URL_OPTION
def spool_replay_command(spool_path: str | None, redis_url: str | None) -> None:
    """Send every spooled task once. Exit 1 if the broker is still down."""
    import os

    from ..celery_tasks import CeleryConfig
    from ..compat import spool_replay
    from ..compat.spool import DEFAULT_SPOOL_PATH, SPOOL_ENV_VAR
    from ..errors import BrokerUnavailable, ConfigError

    path = spool_path or os.environ.get(SPOOL_ENV_VAR) or DEFAULT_SPOOL_PATH
    if spool_path is not None and not os.path.isfile(spool_path):
        # A path typed by hand that is not there is a typo more often than an empty outbox.
        what = "is a folder, not a spool file" if os.path.isdir(spool_path) else "does not exist"
        _compat_fail(
            ConfigError(
                f"spool replay: --path {spool_path!r} {what}; give the file the app spools "
                f"to (CompatQueue(spool_path=...) or {SPOOL_ENV_VAR}), or leave --path out"
            ),
            2,
        )
        return
    if not os.path.exists(path):
        click.echo(f"no spool at {path!r}: nothing to replay")
        return
    url = _compat_redis_url(redis_url)
    backend = None if redis_url else CeleryConfig.from_env().result_backend
    try:
        result = spool_replay(url, path, result_backend=backend)
    except BrokerUnavailable as exc:
        _compat_fail(exc)
        return
    except ConfigError as exc:
        _compat_fail(exc, 2)
        return
    click.echo(
        f"sent {result.sent} spooled task(s); {result.already_sent} had been sent already; "
        f"{result.remaining} left"
    )
