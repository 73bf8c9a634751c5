"""Runs the doctor's checks in order and renders them (see the package docstring)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

from celery import Celery

from ..errors import ConfigError, redact_url
from ._check import Check
from ._connect import first_url, is_redis_url, ping_url, redis_client
from ._managed import check_cluster, check_scripting
from ._settings import (
    check_eviction,
    check_persistence,
    check_serializer,
    check_waiting,
    check_windows_pool,
)
from ._workers import (
    WorkerView,
    check_queues,
    check_registered,
    check_workers,
    routed_queues,
)

CHECK_NAMES = (
    "imports",
    "broker",
    "backend",
    "workers",
    "registered",
    "queues",
    "waiting",
    "windows_pool",
    "serializer",
    "redis_eviction",
    "redis_persistence",
    "redis_cluster",
    "redis_eval",
)
DEFAULT_TIMEOUT = 2.0


def _app_attribute(spec: str, module_name: str, attr: str) -> Any:
    """``module:attr`` (attr may be dotted): says whether the module or the attribute is
    what is missing, and names the Celery apps the module does define."""
    from celery.utils.imports import import_from_cwd

    try:
        module = import_from_cwd(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not (module_name + ".").startswith(exc.name + "."):
            raise  # the module exists; something it imports does not
        raise ConfigError(
            f"cannot load the Celery app {spec!r}: there is no module {module_name!r}; run "
            "from the project folder (it is put on sys.path) or fix the module path of -A"
        ) from exc
    value: Any = module
    for part in attr.split("."):
        if not hasattr(value, part):
            apps = sorted(k for k, v in vars(module).items() if isinstance(v, Celery))
            found = f"its Celery apps: {', '.join(apps)}" if apps else "it defines no Celery app"
            hint = f"-A {module_name}:{apps[0]}" if apps else "the module that defines the app"
            raise ConfigError(
                f"cannot load the Celery app {spec!r}: module {module_name!r} was found but "
                f"has no attribute {attr!r} ({found}); give {hint}"
            )
        value = getattr(value, part)
    return value


def load_app(spec: str) -> Celery:
    """The Celery app named by ``module[:attr]``, found the way ``celery -A`` finds it."""
    from celery.app.utils import find_app

    module_name, colon, attr = spec.partition(":")
    try:
        app = _app_attribute(spec, module_name, attr) if colon and attr else find_app(spec)
    except ConfigError:
        raise
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"cannot load the Celery app {spec!r}: {type(exc).__name__}: {exc}; give "
            "-A module:attribute, run from the project folder (it is put on sys.path)"
        ) from exc
    if not isinstance(app, Celery):
        raise ConfigError(
            f"{spec!r} is a {type(app).__name__}, not a Celery app; give -A module:attribute"
        )
    return app


def _versions() -> tuple[dict[str, str], list[str]]:
    versions: dict[str, str] = {}
    missing: list[str] = []
    for name in ("celery", "kombu", "redis"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            missing.append(name)
            continue
        versions[name] = str(getattr(module, "__version__", "?"))
    return versions, missing


def _check_imports(app: Celery | str) -> tuple[Check, Celery | None]:
    versions, missing = _versions()
    shown = ", ".join(f"{k} {v}" for k, v in versions.items())
    if missing:
        return (
            Check(
                "imports",
                "FAIL",
                f"cannot import {', '.join(missing)} ({shown})",
                "pip install 'celery[redis]' redis",
            ),
            None,
        )
    spec = app if isinstance(app, str) else app.main or "the app"
    try:
        loaded = load_app(app) if isinstance(app, str) else app
        # Import the task modules a worker would import (include=..., imports=...).
        loaded.loader.import_default_modules()
    except Exception as exc:  # whatever the user's import raises
        return (
            Check(
                "imports",
                "FAIL",
                f"{shown}; the app {spec!r} does not load: {type(exc).__name__}: {exc}",
                "run from the project folder and give -A module:attribute of the Celery app",
            ),
            None,
        )
    return Check("imports", "PASS", f"{shown}; app {spec!r} loaded"), loaded


def _server_check(name: str, url: str | None, what: str, timeout: float) -> Check:
    if url is None or url == "disabled":
        return Check(
            name,
            "WARN",
            f"no {what} is configured: task states cannot be read (AsyncResult.state raises)",
            "set CELERY_RESULT_BACKEND (the same Redis as the broker is fine)",
        )
    if url.startswith("rpc://"):
        return Check(name, "PASS", "rpc:// sends results over the broker (checked above)")
    if not is_redis_url(url):
        return Check(name, "SKIP", f"{redact_url(url)} is not Redis; not checked")
    failure = ping_url(url, timeout, what=what)
    if failure is None:
        return Check(name, "PASS", f"{redact_url(url)} answers PING")
    return Check(name, "FAIL", failure.detail, failure.fix)


def run_doctor(
    app: Celery | str, *, platform: str | None = None, timeout: float = DEFAULT_TIMEOUT
) -> list[Check]:
    """Run every check in order and return the results (it never raises for a diagnosis).

    ``platform`` defaults to ``sys.platform`` (injectable to check a Windows set-up).
    """
    platform = sys.platform if platform is None else platform
    imports, loaded = _check_imports(app)
    if loaded is None:
        return [imports]
    spec = app if isinstance(app, str) else "APP"
    checks = [imports]
    broker_url = first_url(loaded.conf.broker_write_url or loaded.conf.broker_url)
    broker_url = broker_url or "amqp://guest@localhost//"
    broker = _server_check("broker", broker_url, "broker", timeout)
    if broker.status == "SKIP":
        broker = _kombu_broker_check(loaded, broker_url, timeout)
    checks.append(broker)
    backend_url = first_url(loaded.conf.result_backend)
    checks.append(_server_check("backend", backend_url, "result backend", timeout))
    queues = routed_queues(loaded)
    if broker.status == "FAIL":
        skipped = "not checked: the broker does not answer"
        checks += [Check(n, "SKIP", skipped) for n in CHECK_NAMES[3:7]]
        pools: dict[str, str] | None = None
    else:
        workers, nodes = check_workers(loaded, spec, timeout)
        view = WorkerView(loaded, nodes, timeout) if nodes else None
        queues_check, consumed = check_queues(spec, queues, view)
        checks += [workers, check_registered(loaded, view), queues_check]
        checks.append(check_waiting(loaded, spec, list(queues), consumed, timeout))
        pools = _pools(view) if platform.startswith("win") else None
    checks.append(check_windows_pool(loaded, spec, platform, pools))
    checks.append(check_serializer(loaded))
    reachable = broker.status == "PASS" and is_redis_url(broker_url)
    client = redis_client(broker_url, timeout) if reachable else None
    try:
        checks += [check_eviction(client), check_persistence(client)]
        checks += [check_cluster(client), check_scripting(client)]
    finally:
        if client is not None:
            client.close()
    return checks


def _pools(view: WorkerView | None) -> dict[str, str] | None:
    if view is None:
        return None
    try:
        return view.pools()
    except Exception:  # fall back to the app's configured pool
        return None


def _kombu_broker_check(app: Celery, url: str, timeout: float) -> Check:
    """A broker that is not Redis (AMQP...): connect through kombu, bounded."""
    from ._connect import classify_error

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
    except Exception as exc:
        failure = classify_error(exc, url, what="broker", timeout=timeout)
        return Check("broker", "FAIL", failure.detail, failure.fix)
    return Check("broker", "PASS", f"{redact_url(url)} accepts connections")


def any_failed(checks: Sequence[Check]) -> bool:
    return any(check.status == "FAIL" for check in checks)


def report_json(checks: Sequence[Check]) -> dict[str, Any]:
    """``{"ok": bool, "checks": [{"name", "status", "detail", "fix"}]}`` (docs/json.md)."""
    return {"ok": not any_failed(checks), "checks": [c.to_dict() for c in checks]}
